"""The Redis adapter of :class:`handlers.ports.TaughtClassStore`: per chat, replace by casefolded name, remove,
a Discord thread sharing its channel's classes, no TTL, and Redis being away reaching the use cases one way."""

from __future__ import annotations

import pytest
import redis

from bot.taught_classes import RedisTaughtClasses
from core.keys import taught_classes_key
from core.protocol import ChatRef
from handlers.errors import QueueUnavailable
from handlers.ports import TaughtClass

CHAT = ChatRef(platform="telegram", chat_id=-100, user_id=7)


async def test_classes_are_added_replaced_listed_and_removed(redis_conn):
    store = RedisTaughtClasses(redis_conn)
    assert await store.add(CHAT, TaughtClass("Мурка", (0.6, 0.8), 3, 2.0)) is False
    assert await store.add(CHAT, TaughtClass("Барсик", (1.0, 0.0), 1, 1.0)) is False
    assert await store.add(CHAT, TaughtClass("мурка", (0.0, 1.0), 5, 3.0)) is True
    assert [(c.name, c.prototype, c.shots) for c in await store.classes(CHAT)] == [
        ("Барсик", (1.0, 0.0), 1),
        ("мурка", (0.0, 1.0), 5),
    ]
    assert redis_conn.ttl(taught_classes_key(CHAT)) == -1  # kept until forgotten
    assert await store.remove(CHAT, "МУРКА") is True
    assert await store.remove(CHAT, "мурка") is False
    assert await store.classes(CHAT.model_copy(update={"chat_id": -200})) == []


async def test_a_discord_thread_shares_its_channels_classes(redis_conn):
    store = RedisTaughtClasses(redis_conn)
    channel = ChatRef(platform="discord", chat_id=5, user_id=7, parent_ids=(9,))
    thread = ChatRef(platform="discord", chat_id=6, user_id=7, thread_id=6, parent_ids=(5, 9))
    await store.add(channel, TaughtClass("Мурка", (1.0,), 1, 1.0))
    assert [c.name for c in await store.classes(thread)] == ["Мурка"]


async def test_redis_away_is_queue_unavailable():
    store = RedisTaughtClasses(redis.Redis(port=1, socket_connect_timeout=0.2))
    with pytest.raises(QueueUnavailable):
        await store.classes(CHAT)


async def test_a_class_keeps_its_format_and_model_and_an_older_one_reads_as_the_old_format(redis_conn):
    store = RedisTaughtClasses(redis_conn)
    await store.add(CHAT, TaughtClass("Мурка", (0.6, 0.8), 3, 2.0, "tiny", 2))
    redis_conn.hset(taught_classes_key(CHAT), "барсик", '{"name": "Барсик", "prototype": [1.0], "shots": 1, "at": 1.0}')
    assert [(c.name, c.model, c.version) for c in await store.classes(CHAT)] == [
        ("Барсик", None, 1),
        ("Мурка", "tiny", 2),
    ]
