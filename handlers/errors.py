"""The one exception handlers raise for bad input: it carries a texts.py key, not a sentence."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Input we refuse, with the key of the friendly text that explains why and the values it needs."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values: dict[str, Any] = values  # formatted into the text, passed on as keyword arguments


class QueueUnavailable(Exception):
    """The job queue (Redis) cannot be reached; the user is asked to try again shortly."""


class FeedbackUnavailable(Exception):
    """The feedback database cannot be reached for something that must not be buffered (``/forget``)."""
