"""A chat's taught classes (``/teach``) in Redis: one hash per chat, ``molbert:taught-classes:<platform>:<chat id>``,
the casefolded name → the class as JSON. Kept until forgotten (no TTL).

Implements :class:`handlers.ports.TaughtClassStore` for now: the classes move into the database with #22's
feedback store, behind the same port.
"""

from __future__ import annotations

import json

import redis

from bot.redis_calls import in_thread
from core.keys import taught_classes_key
from core.protocol import ChatRef
from handlers.ports import TaughtClass


class RedisTaughtClasses:
    """Taught classes in a Redis hash per chat; Redis errors surface as :class:`QueueUnavailable`."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    async def classes(self, chat: ChatRef) -> list[TaughtClass]:
        """The chat's classes, oldest first."""
        stored = await in_thread(self.connection.hvals, taught_classes_key(chat))
        return sorted((_decoded(value) for value in stored), key=lambda taught: taught.taught_at)

    async def add(self, chat: ChatRef, taught: TaughtClass) -> bool:
        """Store ``taught`` (replacing the class of the same casefolded name); whether one was replaced."""
        value = json.dumps(
            {
                "name": taught.name,
                "prototype": taught.prototype,
                "shots": taught.shots,
                "at": taught.taught_at,
                "model": taught.model,
                "version": taught.version,
            },
            ensure_ascii=False,
        )
        created = await in_thread(self.connection.hset, taught_classes_key(chat), taught.name.casefold(), value)
        return not created

    async def remove(self, chat: ChatRef, name: str) -> bool:
        """Forget the class named ``name``; whether there was one."""
        return bool(await in_thread(self.connection.hdel, taught_classes_key(chat), name.casefold()))


def _decoded(value: bytes | str) -> TaughtClass:
    data = json.loads(value)
    prototype, version = tuple(data["prototype"]), int(data.get("version", 1))  # 1: stored before the field
    return TaughtClass(data["name"], prototype, int(data["shots"]), float(data["at"]), data.get("model"), version)
