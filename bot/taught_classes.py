"""A chat's taught classes (``/teach``) in the database: :class:`handlers.ports.TaughtClassStore` over
``core.taught_store`` (SQLite by default, PostgreSQL with ``DATABASE_URL``; the schema is Alembic's).

Before #22 they lived in Redis, a hash per chat (:func:`core.keys.legacy_taught_classes_pattern`); the first time
the store reaches the database it moves any such hash into it (rows the database already has win) and deletes it,
so an upgrade loses no class. A database that cannot be reached surfaces as :class:`ClassesUnavailable`, which the
use cases answer with a clear text; photos are then classified against the labels alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import TypeVar

import redis.asyncio as aioredis
from sqlalchemy.engine import URL

from core.database import migrate
from core.keys import legacy_taught_classes_pattern
from core.protocol import ChatRef
from core.taught_store import StoredClass, TaughtClassQueries
from handlers.errors import ClassesUnavailable
from handlers.ports import TaughtClass

log = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseTaughtClasses:
    """Taught classes in the ``taught_classes`` table; ``legacy``: the Redis whose old hashes are moved in once."""

    def __init__(self, queries: TaughtClassQueries, url: URL, legacy: aioredis.Redis | None = None) -> None:
        self.queries = queries
        self.url = url
        self.legacy = legacy
        self._ready = False
        self._imported = legacy is None
        self._starting = asyncio.Lock()

    async def classes(self, chat: ChatRef) -> list[TaughtClass]:
        """The chat's classes, oldest first."""
        await self.start()
        stored = await _reached(self.queries.classes(chat.platform, _chat_id(chat)))
        return [_taught(item) for item in stored]

    async def add(self, chat: ChatRef, taught: TaughtClass) -> bool:
        """Store ``taught`` (replacing the class of the same casefolded name); whether one was replaced."""
        await self.start()
        return bool(await _reached(self.queries.add(chat.platform, _chat_id(chat), [_stored(taught)])))

    async def remove(self, chat: ChatRef, name: str) -> bool:
        """Forget the class named ``name``; whether there was one."""
        await self.start()
        return await _reached(self.queries.remove(chat.platform, _chat_id(chat), name))

    async def start(self) -> None:
        """Bring the schema up to date and move the classes still in Redis in (once each; called at start and
        before every query, so a database away at start is caught up later). :class:`ClassesUnavailable` while
        the database cannot be reached; Redis away only postpones the move."""
        if self._ready and self._imported:
            return
        async with self._starting:
            if not self._ready:
                await _reached(migrate(self.url))
                self._ready = True
            if not self._imported:
                self._imported = await self._import_from_redis()

    async def _import_from_redis(self) -> bool:
        """Move every old Redis hash into the database, then delete it; whether that is done (Redis away: no)."""
        assert self.legacy is not None
        moved = chats = 0
        try:
            async for key in self.legacy.scan_iter(match=legacy_taught_classes_pattern(), count=500):
                name = key.decode() if isinstance(key, bytes) else key
                platform, chat_id = name.split(":", 3)[2:]
                values = await self.legacy.hvals(name)
                stored = [item for item in map(_legacy, values) if item is not None]
                moved += await _reached(self.queries.import_missing(platform, chat_id, stored))
                await self.legacy.delete(name)
                chats += 1
        except aioredis.RedisError as exc:
            log.warning("taught classes still in Redis not moved yet (%s); trying again later", type(exc).__name__)
            return False
        if chats:
            log.info("taught classes: %d classes of %d chats moved from Redis into the database", moved, chats)
        return True


async def _reached(query: Awaitable[T]) -> T:
    """``query``'s result; any error of the database (or its driver) as :class:`ClassesUnavailable`, named by its
    type only: its text may name the server."""
    try:
        return await query
    except Exception as exc:
        raise ClassesUnavailable(type(exc).__name__) from exc


def _chat_id(chat: ChatRef) -> str:
    """The chat whose classes these are (a Discord thread shares its channel's, as with ``/labels``)."""
    return str(chat.settings_chat_id)


def _stored(taught: TaughtClass) -> StoredClass:
    return StoredClass(taught.name, taught.prototype, taught.shots, taught.taught_at, taught.model, taught.version)


def _taught(stored: StoredClass) -> TaughtClass:
    return TaughtClass(stored.name, stored.vector, stored.shots, stored.taught_at, stored.model, stored.version)


def _legacy(value: bytes | str) -> StoredClass | None:
    """A class as the Redis store kept it (JSON; a prototype of the old photo-and-text format, version 1); None,
    with a log line, for one that cannot be read (it is not moved: the chat teaches it again)."""
    try:
        data = json.loads(value)
        return StoredClass(data["name"], tuple(data["prototype"]), int(data["shots"]), float(data["at"]), None, 1)
    except (ValueError, KeyError, TypeError):
        log.warning("a taught class in Redis cannot be read; not moved")
        return None
