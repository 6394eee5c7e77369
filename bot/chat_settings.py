"""Chat settings (``/settings``) in Redis: one hash per chat, ``molbert:chat-settings:<platform>:<chat id>``, and
the chat's label set (``/labels``), a JSON list at ``molbert:chat-labels:<platform>:<chat id>``.

Implements :class:`handlers.ports.ChatSettingsStore`. A press changes one field (``HSET``), so two admins
changing different settings at once both win. Settings and label sets are kept until changed (no TTL).
"""

from __future__ import annotations

import json

import redis

from bot.redis_calls import in_thread
from core.keys import chat_labels_key, chat_moved_key, chat_settings_key
from core.protocol import ChatRef
from handlers.chat_settings import ChatSettings

MOVE_TTL = 30 * 24 * 3600  # as long as a picture's request is kept for its buttons (bot.queue.PARAMS_TTL)


class RedisChatSettings:
    """Chat settings in a Redis hash per chat; Redis errors surface as :class:`QueueUnavailable`."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    async def load(self, chat: ChatRef) -> ChatSettings:
        """The chat's settings; fields never set (or no longer offered) read as the defaults."""
        stored = await in_thread(self.connection.hgetall, chat_settings_key(chat))
        return ChatSettings.from_stored(stored)

    async def save(self, chat: ChatRef, name: str, value: str) -> None:
        """Set one field; ``ValueError`` for a field or value the settings do not offer."""
        ChatSettings().changed(name, value)
        await in_thread(self.connection.hset, chat_settings_key(chat), name, value)

    async def move(self, chat: ChatRef, new_chat_id: int | str) -> None:
        """Copy the chat's settings to ``new_chat_id`` (fields the new chat set itself are kept) and remember the
        move for ``MOVE_TTL`` (as long as the buttons under its pictures work)."""
        await in_thread(self._move, chat, new_chat_id)

    def _move(self, chat: ChatRef, new_chat_id: int | str) -> None:
        moved = chat.model_copy(update={"chat_id": new_chat_id, "thread_id": None, "parent_ids": ()})
        stored = self.connection.hgetall(chat_settings_key(chat))
        with self.connection.pipeline() as pipe:
            for name, value in stored.items():
                pipe.hsetnx(chat_settings_key(moved), name, value)
            pipe.set(chat_moved_key(chat), str(new_chat_id), ex=MOVE_TTL)
            pipe.execute()

    async def moved_to(self, chat: ChatRef) -> str | None:
        """The chat ``chat`` became, if it moved."""
        value = await in_thread(self.connection.get, chat_moved_key(chat))
        return value.decode() if isinstance(value, bytes) else value

    async def labels(self, chat: ChatRef) -> list[str] | None:
        """This chat's label set, chosen by its admins with ``/labels``."""
        data = await in_thread(self.connection.get, chat_labels_key(chat))
        return None if data is None else json.loads(data)

    async def set_labels(self, chat: ChatRef, labels: list[str] | None) -> None:
        """Store this chat's label set (kept until reset), or forget it."""
        key = chat_labels_key(chat)
        if labels is None:
            await in_thread(self.connection.delete, key)
        else:
            await in_thread(self.connection.set, key, json.dumps(labels, ensure_ascii=False))
