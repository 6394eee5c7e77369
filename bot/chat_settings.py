"""Chat settings (``/settings``) in Redis: one hash per chat, ``molbert:chat-settings:<platform>:<chat id>``.

Implements :class:`handlers.chat_settings.ChatSettingsStore`. A press changes one field (``HSET``), so two admins
changing different settings at once both win. Settings are kept until changed (no TTL), like chat label sets.
"""

from __future__ import annotations

import redis

from bot.redis_calls import in_thread
from handlers.chat_settings import ChatSettings
from handlers.protocol import KEY_PREFIX, ChatRef


def chat_settings_key(chat: ChatRef) -> str:
    """The hash holding ``chat``'s settings."""
    return f"{KEY_PREFIX}:chat-settings:{chat.platform}:{chat.settings_chat_id}"


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
