"""The frontend's result listener: reads its Redis stream with a consumer group, delivers, then acknowledges.

At-least-once from the stream, exactly-once as the user sees it: an event is acknowledged only after the
chat got it, entries left pending by a crashed run are taken over on start (``XAUTOCLAIM``), and a job
already delivered is skipped (``delivered:<job id>``).

Chats are served concurrently, each chat's events in stream order: a chat waiting for its turn (Telegram's
pacing, a flood wait, a slow upload) never holds up the results of other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import cast

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.monitoring import observe_delivery
from bot.queue import DELIVERED, STATUS_GONE, STATUS_TTL, status_message_id
from core.keys import delivered_key, result_stream, status_message_key
from core.protocol import RESULT_STREAM_CONSUMER_GROUP, ResultEvent
from core.telemetry import log_job
from handlers.buttons import cancel_keyboard
from handlers.delivery import deliver_result, render_progress
from handlers.ports import Outbox, TaughtClassStore
from handlers.telemetry import rate_limit_waits

# Stream replies as redis-py gives them over RESP2 (its annotations also allow RESP3's and decoded shapes)
_Entries = list[tuple[bytes, dict[bytes, bytes]]]
_StreamsReply = list[tuple[bytes, _Entries]]

log = logging.getLogger(__name__)

DELIVERED_TTL = 7 * 24 * 3600
DEAD_LETTER_SUFFIX = ":dead"
MAX_DELIVERY_ATTEMPTS = 5
RECONNECT_MAX_DELAY = 10.0
MAX_IN_FLIGHT = 256  # entries being delivered at once; reading waits when this many are


class DeliveryUncertain(Exception):
    """A send failed in a way that leaves open whether the chat got it (cut off after the request went out).

    Sending again could show the result twice, so the listener counts the result as delivered (at most once).
    """


class ResultListener:
    """Delivers the results of one platform's jobs into its chats through ``outbox``."""

    def __init__(
        self,
        connection: aioredis.Redis,
        platform: str,
        outbox: Outbox,
        consumer: str = "main",
        block_ms: int = 2000,
        reclaim_idle_ms: int = 60_000,
        classes: TaughtClassStore | None = None,
    ) -> None:
        """``classes``: where a taught class (``/teach``) is stored when its result arrives."""
        self.redis = connection
        self.classes = classes
        self.stream = result_stream(platform)
        self.outbox = outbox
        self.consumer = consumer
        self.block_ms = block_ms
        self.reclaim_idle_ms = reclaim_idle_ms
        self._stopping = asyncio.Event()
        self._chains: dict[str, asyncio.Task] = {}  # per chat: the task delivering its latest entry
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def stop(self) -> None:
        """Ask :meth:`run` to return after the delivery in progress (within ``block_ms``).

        Stopping by cancellation would interrupt redis-py in the middle of a blocking read, which can leave
        the connection waiting for a reply forever; a flag between reads avoids that.
        """
        self._stopping.set()

    async def run(self) -> None:
        """Deliver until stopped: first what a previous run left pending, then new events as they come."""
        await self._ensure_group()
        await self._drain_pending()
        loop = asyncio.get_running_loop()
        last_reclaim = loop.time()
        backoff = 0.0  # while Redis is unreachable: 1 s, doubling up to RECONNECT_MAX_DELAY
        while not self._stopping.is_set():
            try:
                await self._read_new()
                if loop.time() - last_reclaim > self.reclaim_idle_ms / 1000:
                    await self._reclaim()
                    last_reclaim = loop.time()
                if backoff:
                    log.info("result listener on %s reconnected to Redis", self.stream)
                    backoff = 0.0
            except asyncio.CancelledError:
                for task in self._chains.values():
                    task.cancel()
                raise
            except (RedisConnectionError, RedisTimeoutError) as exc:  # restarted, loading (a ConnectionError) or away
                backoff = min(backoff * 2 or 1.0, RECONNECT_MAX_DELAY)
                log.warning("result listener on %s: Redis unreachable (%s); retry in %.0f s", self.stream, exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
            except Exception:
                log.exception("result listener error on %s; retrying", self.stream)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1)
        await self.wait_delivered()  # stopping: let deliveries under way finish (what is left stays pending)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, RESULT_STREAM_CONSUMER_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _drain_pending(self) -> None:
        """Deliver entries this consumer read but never acknowledged, and claim other consumers' stale ones."""
        own = cast(
            _StreamsReply,
            await self.redis.xreadgroup(RESULT_STREAM_CONSUMER_GROUP, self.consumer, {self.stream: "0"}, count=1000),
        )
        for _stream, entries in own:
            await self._handle_all(entries)
        await self._reclaim()

    async def _reclaim(self) -> None:
        """Take over entries idle longer than ``reclaim_idle_ms``: failed deliveries and dead replicas' work."""
        _next, claimed, *_ = await self.redis.xautoclaim(
            self.stream, RESULT_STREAM_CONSUMER_GROUP, self.consumer, self.reclaim_idle_ms, count=1000
        )
        await self._handle_all(claimed)

    async def _read_new(self) -> None:
        response = cast(
            _StreamsReply | None,
            await self.redis.xreadgroup(
                RESULT_STREAM_CONSUMER_GROUP, self.consumer, {self.stream: ">"}, count=16, block=self.block_ms
            ),
        )
        for _stream, entries in response or []:
            await self._handle_all(entries)

    async def _handle_all(self, entries: list) -> None:
        for entry_id, fields in entries:
            if fields:
                await self._dispatch(entry_id, fields)
            else:  # a pending entry trimmed from the stream (past STREAM_MAXLEN) comes back empty: it is lost
                log.error("result entry %s was trimmed from the stream before it was delivered", entry_id)
                await self.redis.xack(self.stream, RESULT_STREAM_CONSUMER_GROUP, entry_id)

    async def _dispatch(self, entry_id: bytes | str, fields: dict) -> None:
        """Start delivering one entry after the chat's earlier ones; other chats go on meanwhile."""
        await self._slots.acquire()
        key = _chat_key(fields)
        task = asyncio.create_task(self._handle_after(self._chains.get(key), entry_id, fields))
        self._chains[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def _handle_after(self, previous: asyncio.Task | None, entry_id: bytes | str, fields: dict) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own (logged by _forget)
            await self.handle(entry_id, fields)
        finally:
            self._slots.release()

    def _forget(self, key: str, task: asyncio.Task) -> None:
        if self._chains.get(key) is task:
            del self._chains[key]
        if not task.cancelled() and task.exception() is not None:  # left pending: reclaimed and retried later
            log.error("delivering entry of %s failed", key, exc_info=task.exception())

    async def wait_delivered(self) -> None:
        """Wait until every entry handed out so far was handled."""
        while self._chains:
            await asyncio.wait(list(self._chains.values()))

    async def handle(self, entry_id: bytes | str, fields: dict) -> None:
        """Deliver one stream entry and acknowledge it; a delivery error leaves it pending for a retry."""
        try:
            event = ResultEvent.model_validate_json(fields[b"event"])
        except (KeyError, ValidationError):
            log.error("malformed result event %s moved to the dead-letter stream", entry_id)
            await self._dead_letter(entry_id, fields)
            return
        if event.kind == "progress":
            await self._show_progress(event)
        elif await self.redis.exists(delivered_key(event.job_id)):
            log.info("job %s was delivered before; acknowledging the repeat", event.job_id)
        else:
            try:
                await self._deliver(event)
            except DeliveryUncertain as exc:
                log.warning("job %s may not have reached its chat (%s); not sending it again", event.job_id, exc)
                await self.redis.set(delivered_key(event.job_id), "1", ex=DELIVERED_TTL)
            except Exception:
                log.exception("could not deliver job %s", event.job_id)
                await self._after_failed_delivery(entry_id, fields)
                return
        await self.redis.xack(self.stream, RESULT_STREAM_CONSUMER_GROUP, entry_id)

    async def _after_failed_delivery(self, entry_id: bytes | str, fields: dict) -> None:
        """Leave the entry pending for a later retry, or dead-letter it after too many attempts."""
        pending = await self.redis.xpending_range(
            self.stream, RESULT_STREAM_CONSUMER_GROUP, min=entry_id, max=entry_id, count=1
        )
        attempts = int(pending[0]["times_delivered"]) if pending else MAX_DELIVERY_ATTEMPTS
        if attempts >= MAX_DELIVERY_ATTEMPTS:
            log.error("giving up on entry %s after %d attempts; dead-lettered", entry_id, attempts)
            await self._dead_letter(entry_id, fields)

    async def _dead_letter(self, entry_id: bytes | str, fields: dict) -> None:
        await self.redis.xadd(self.stream + DEAD_LETTER_SUFFIX, fields, maxlen=10_000, approximate=True)
        await self.redis.xack(self.stream, RESULT_STREAM_CONSUMER_GROUP, entry_id)

    async def _deliver(self, event: ResultEvent) -> None:
        images = [image for image in await self._load_images(event) if image is not None]
        status_key = status_message_key(event.job_id)
        previous = cast(bytes | None, await self.redis.set(status_key, DELIVERED, ex=STATUS_TTL, get=True))  # old value
        try:
            with rate_limit_waits() as waits:
                await deliver_result(event, images, status_message_id(previous), self.outbox, self.classes)
        except Exception:
            if previous is not None:  # let the retry replace the status message after all
                await self.redis.set(status_key, previous, ex=STATUS_TTL)
            raise
        event.times.delivered = time.time()
        await self.redis.set(delivered_key(event.job_id), "1", ex=DELIVERED_TTL)
        if event.kind == "rank" and event.image_keys:  # the best photo, kept by the worker to be shown: it was shown
            await self.redis.delete(*event.image_keys)
        observe_delivery(event)
        stages = event.times.model_dump(exclude_none=True)
        rate_limited = round(sum(waits) * 1000, 1)  # in deliver_ms: Telegram's pacing and flood waits, not our cost
        log_job(
            log,
            "job_delivered",
            event.job_id,
            event.chat,
            event.kind,
            event.times,
            ok=event.ok,
            stages=stages,
            rate_limit_ms=rate_limited,
        )

    async def _show_progress(self, event: ResultEvent) -> None:
        """Edit the "queued" message to show progress; a failed edit is not worth a retry.

        Progress never sends a message of its own: once the "queued" message is gone (deleted by someone, or no
        longer editable), the status is marked gone, so later progress is skipped and the result comes anew.
        """
        status_key = status_message_key(event.job_id)
        status = status_message_id(await self.redis.get(status_key))
        if status is None:
            return
        try:
            keyboard = cancel_keyboard(event.job_id, event.chat.lang)  # a running job can still be cancelled
            if not await self.outbox.edit_text(event.chat, status, render_progress(event), keyboard, resend=False):
                await self.redis.set(status_key, STATUS_GONE, xx=True, keepttl=True)
        except Exception as exc:
            log.info("progress of job %s not shown: %s", event.job_id, exc)

    async def _load_images(self, event: ResultEvent) -> list[bytes | None]:
        """The picture to show: the grid when there is one, else the image(s) (a ranking's: the best photo)."""
        keys = [event.grid_key] if event.grid_key else event.image_keys
        return cast(list[bytes | None], await self.redis.mget(keys)) if keys else []


def _chat_key(fields: dict) -> str:
    """Which chat an entry is for (``platform:chat id``), read cheaply; a malformed entry gets a key of its own."""
    try:
        chat = json.loads(fields[b"event"])["chat"]
        return f"{chat['platform']}:{chat['chat_id']}"
    except (KeyError, TypeError, ValueError):
        return "malformed"
