"""Progress reports from a running generation to the chat's "queued" message, rate-limited."""

from __future__ import annotations

import time
from typing import Any

import redis

from core.keys import cancel_key
from core.protocol import ChatRef, ResultEvent
from workers.publish import publish

# Telegram allows about one edit a second per chat (fewer in groups); a few seconds apart is plenty for a human.
PROGRESS_INTERVAL = 3.0


class JobCancelled(Exception):
    """The user cancelled the job while it ran; raised from the step callback to stop the pipeline."""


class ProgressReporter:
    """A ``(done, total)`` step callback that publishes a progress event at most every ``interval`` seconds.

    Jobs shorter than ``interval`` publish none: their result comes before a progress edit would help.
    """

    def __init__(
        self,
        connection: redis.Redis,
        job_id: str,
        chat: ChatRef,
        interval: float | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self.connection = connection
        self.fields = fields or {}  # more of the progress event (an upscale says so)
        self.job_id = job_id
        self.chat = chat
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self._started = self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        """Called after every denoising step: stops the job if it was cancelled, and reports progress."""
        if self.connection.exists(cancel_key(self.job_id)):
            raise JobCancelled(self.job_id)
        now = time.monotonic()
        if done >= total or now - self._last < self.interval:
            return
        self._last = now
        remaining = (now - self._started) * (total - done) / done  # the steps so far predict the rest
        event = ResultEvent(
            job_id=self.job_id,
            kind="progress",
            chat=self.chat,
            progress=round(done / total, 3),
            seconds=round(remaining, 1),
            **self.fields,
        )
        publish(self.connection, event)
