"""The feedback store of the frontend process: ``handlers.ports.FeedbackStore`` over the SQLAlchemy database.

Presses never wait for the database. Each one joins a bounded in-memory buffer, which one task writes in batches;
while the database is away the batch stays and is tried again with back-off, and once the buffer is full (the
database away for long) new records are dropped with a log line. The first record about a result brings the
result along: its request and CLIP embeddings, which the worker left in Redis next to its images
(``core.keys.feedback_context_key``). Another task deletes rows older than ``FEEDBACK_RETENTION_DAYS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from pydantic import ValidationError
from sqlalchemy.engine import URL

from core.database import migrate
from core.feedback_store import Choice, FeedbackStore, ResultRecord, Vote, Write
from core.keys import feedback_context_key
from core.protocol import ChatRef, FeedbackContext
from core.telemetry import hash_user
from handlers.errors import FeedbackUnavailable

log = logging.getLogger(__name__)

BATCH = 200  # records per transaction
RETRY_MIN, RETRY_MAX = 1.0, 30.0  # seconds between tries while the database is away
RETENTION_EVERY = 3600.0  # seconds between retention sweeps
KNOWN_RESULTS = 10_000  # results recently stored, whose context need not be read again


@dataclass(frozen=True)
class _Pending:
    """A press waiting to be written: a vote (``verb`` ``f``, ``value`` ±1) or a choice (``value`` the index)."""

    chat: ChatRef
    job_id: str
    verb: str
    value: int | None
    at: float


class DatabaseFeedback:
    """Buffered writes to a :class:`core.feedback_store.FeedbackStore`; :meth:`run` is the writer task."""

    def __init__(
        self,
        store: FeedbackStore,
        contexts: aioredis.Redis,
        url: URL,
        *,
        buffer: int = 10_000,
        retention_days: int = 365,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.contexts = contexts
        self.url = url
        self.limit = buffer
        self.retention = retention_days * 86400.0
        self.clock = clock
        self.pending: deque[_Pending] = deque()
        self.dropped = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set once the schema was tried and the buffer is empty
        self._known: OrderedDict[str, None] = OrderedDict()
        self._ready = False
        self._migrating = asyncio.Lock()  # the writer, the sweep and /forget may all start it at once

    def record_vote(self, chat: ChatRef, job_id: str, value: int) -> None:
        """Buffer a 👍/👎 (never waits)."""
        self._add(_Pending(chat, job_id, "f", value, self.clock()))

    def record_choice(self, chat: ChatRef, job_id: str, verb: str, chosen: int | None) -> None:
        """Buffer a U/V/⤴/🔍/🔄 press (never waits)."""
        self._add(_Pending(chat, job_id, verb, chosen, self.clock()))

    def _add(self, item: _Pending) -> None:
        if len(self.pending) >= self.limit:
            self.dropped += 1
            log.warning("feedback buffer full (%d records; database away?): a press was dropped", self.limit)
            return
        self.pending.append(item)
        self._idle.clear()
        self._wake.set()

    async def forget(self, chat: ChatRef) -> int:
        """Delete the user's records on their platform, buffered ones included; raises
        :class:`FeedbackUnavailable` when the database cannot be reached (nothing is half-forgotten then but the
        buffer, which is dropped either way)."""
        user = hash_user(chat)
        kept = [item for item in self.pending if not _same_user(item.chat, chat)]
        buffered = len(self.pending) - len(kept)
        self.pending = deque(kept)
        try:
            await self._ensure_schema()
            return buffered + await self.store.forget(chat.platform, user)
        except Exception as exc:
            raise FeedbackUnavailable(type(exc).__name__) from exc  # the error's text may name the server

    async def run(self) -> None:
        """Bring the schema up to date (at start: a database away then is tried again at the first write), then
        write the buffer until cancelled, trying again with back-off while the database is away."""
        try:
            await self._ensure_schema()
        except Exception as exc:
            log.warning("feedback database unavailable at start (%s); records wait in memory", type(exc).__name__)
        delay = RETRY_MIN
        while True:
            if not self.pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
            batch = [self.pending[index] for index in range(min(BATCH, len(self.pending)))]
            try:
                await self._ensure_schema()
                await self.store.write(await self._writes(batch))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "feedback database unavailable (%s); %d records wait", type(exc).__name__, len(self.pending)
                )
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            delay = RETRY_MIN
            for item in batch:  # forget() may have taken some out meanwhile
                with contextlib.suppress(ValueError):
                    self.pending.remove(item)
            for item in batch:
                self._remember(item.job_id)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the buffer is written (shutdown, tests); ``False`` if it still holds records at ``timeout``."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def sweep(self) -> None:
        """Delete rows older than the retention period every hour, until cancelled."""
        while True:
            await self.delete_expired()
            await asyncio.sleep(RETENTION_EVERY)

    async def delete_expired(self) -> int:
        """One retention sweep; a database away is logged and tried at the next one."""
        try:
            await self._ensure_schema()
            deleted = await self.store.delete_older_than(self.clock() - self.retention)
        except Exception as exc:
            log.warning("feedback retention sweep failed (%s); trying again later", type(exc).__name__)
            return 0
        if deleted:
            log.info("feedback retention: %d rows older than %.0f days deleted", deleted, self.retention / 86400)
        return deleted

    async def _ensure_schema(self) -> None:
        """Run the migrations once (at the first write: a database away at start does not stop the bot)."""
        async with self._migrating:
            if not self._ready:
                await migrate(self.url)
                self._ready = True

    async def _writes(self, batch: list[_Pending]) -> list[Write]:
        """The rows for ``batch``: each result not stored lately first, then the presses."""
        firsts: dict[str, _Pending] = {}
        for item in batch:
            if item.job_id not in self._known:
                firsts.setdefault(item.job_id, item)
        contexts = await self._contexts(list(firsts))
        writes: list[Write] = [self._result(job_id, first, contexts.get(job_id)) for job_id, first in firsts.items()]
        for item in batch:
            where = _chat_key(item.chat)
            user = hash_user(item.chat)
            if item.verb == "f":
                writes.append(Vote(item.job_id, item.chat.platform, where, user, item.value or 0, item.at))
            else:
                writes.append(Choice(item.job_id, item.chat.platform, where, user, item.verb, item.value, item.at))
        return writes

    @staticmethod
    def _result(job_id: str, first: _Pending, context: FeedbackContext | None) -> ResultRecord:
        """The result ``job_id`` as the worker described it; without its context (expired, an older worker) the
        result is kept with what the press says: its chat, no request, no embeddings."""
        if context is None:
            kind = "classify" if "-classify-" in job_id else "imagine"
            chat = first.chat
            return ResultRecord(job_id, chat.platform, _chat_key(chat), hash_user(chat), kind, None, {}, first.at)
        asked = context.chat
        return ResultRecord(
            job_id=job_id,
            platform=asked.platform,
            chat_key=_chat_key(asked),
            user_hash=hash_user(asked),
            kind=context.kind,
            model=context.model,
            request=dict(context.request),
            at=first.at,
            prompt_embedding=None if context.prompt_embedding is None else tuple(context.prompt_embedding),
            image_embeddings=tuple(tuple(vector) for vector in context.image_embeddings),
        )

    async def _contexts(self, job_ids: list[str]) -> dict[str, FeedbackContext]:
        """What the workers left for these results, in one round trip (an unreadable one is left out)."""
        if not job_ids:
            return {}
        try:
            raws = await self.contexts.mget([feedback_context_key(job_id) for job_id in job_ids])
        except aioredis.RedisError as exc:
            log.warning("no feedback contexts (%s): results kept without their embeddings", type(exc).__name__)
            return {}
        found = {}
        for job_id, raw in zip(job_ids, raws, strict=True):
            try:
                if raw is not None:
                    found[job_id] = FeedbackContext.model_validate_json(raw)
            except ValidationError:
                log.warning("the feedback context of %s does not validate", job_id)
        return found

    def _remember(self, job_id: str) -> None:
        self._known[job_id] = None
        self._known.move_to_end(job_id)
        while len(self._known) > KNOWN_RESULTS:
            self._known.popitem(last=False)


def _chat_key(chat: ChatRef) -> str:
    """The chat a record counts for (a Discord thread counts for its channel, as its ``/settings`` do)."""
    return f"{chat.platform}:{chat.settings_chat_id}"


def _same_user(one: ChatRef, other: ChatRef) -> bool:
    return one.platform == other.platform and str(one.user_id) == str(other.user_id)
