"""Operator allow/deny lists and /stats: checked before any work, and only operators see the figures."""

from __future__ import annotations

from functools import partial

import pytest

from bot.queue import RedisJobs
from core.protocol import ChatRef
from handlers.access import AccessPolicy, parse_ids
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert
from tests.memory import MemoryJobs, MemoryOutbox

chat = partial(factories.chat, chat_id=10, user_id=1)


def in_thread(thread: int, channel: int, server: int) -> ChatRef:
    return ChatRef(platform="discord", chat_id=thread, user_id=1, thread_id=thread, parent_ids=(channel, server))


@pytest.mark.parametrize(
    ("policy", "who", "allowed"),
    [
        (AccessPolicy(), chat(), True),
        (AccessPolicy(deny_users=parse_ids("1")), chat(user_id=1), False),
        (AccessPolicy(deny_chats=parse_ids("10")), chat(chat_id=10), False),
        (AccessPolicy(allow_users=parse_ids("2")), chat(user_id=1), False),
        (AccessPolicy(allow_users=parse_ids("2")), chat(user_id=2), True),
        (AccessPolicy(allow_chats=parse_ids("-100")), chat(chat_id=-100), True),
        (AccessPolicy(allow_chats=parse_ids("-100")), chat(chat_id=5), False),
        (AccessPolicy(allow_users=parse_ids("telegram:1")), chat(user_id=1, platform="discord"), False),
        (AccessPolicy(allow_users=parse_ids("1"), deny_chats=parse_ids("10")), chat(user_id=1, chat_id=10), False),
        (AccessPolicy(deny_chats=parse_ids("discord:7")), in_thread(thread=8, channel=7, server=6), False),
        (AccessPolicy(deny_chats=parse_ids("discord:6")), in_thread(thread=8, channel=7, server=6), False),
        (AccessPolicy(allow_chats=parse_ids("discord:7")), in_thread(thread=8, channel=7, server=6), True),
        (AccessPolicy(allow_chats=parse_ids("discord:6")), in_thread(thread=8, channel=7, server=6), True),
        (AccessPolicy(allow_chats=parse_ids("discord:5")), in_thread(thread=8, channel=7, server=6), False),
    ],
)
def test_allow_and_deny_lists(policy, who, allowed):
    assert policy.allows(who) is allowed


async def test_denied_users_get_a_polite_refusal_and_nothing_is_queued_or_downloaded():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs, access=AccessPolicy(deny_users=parse_ids("1")))

    async def must_not_download() -> bytes:
        raise AssertionError("a denied user's photo was downloaded")

    assert await molbert.imagine(chat(), "кот", outbox) is None
    assert await molbert.classify(chat(message_id=2), must_not_download, 100, None, outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t("access_denied", "ru")] * 2


async def test_denied_users_cannot_press_buttons():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    open_bot = make_molbert(jobs)
    job_id = await open_bot.imagine(chat(), "кот", outbox)
    closed = make_molbert(jobs, access=AccessPolicy(deny_users=parse_ids("1")))
    assert await closed.press(chat(message_id=9), f"r:{job_id}", "press", outbox) == t("access_denied", "ru")
    assert len(jobs.jobs) == 1


async def test_stats_are_for_operators_only(redis_conn):
    outbox = MemoryOutbox()
    molbert = make_molbert(RedisJobs(redis_conn), access=AccessPolicy(operators=parse_ids("42")))
    await molbert.imagine(chat(message_id=1), "кот", outbox)

    async def download() -> bytes:
        return images.png()

    await molbert.classify(chat(message_id=2), download, None, "кошка, собака", outbox)
    await molbert.stats(chat(), outbox)
    assert outbox.texts[-1] == t("operators_only", "ru")
    await molbert.stats(chat(user_id=42), outbox)
    expected = t(
        "stats",
        "ru",
        jobs_today=2,
        waiting_pictures=1,
        waiting_photos=1,
        running=0,
        workers=0,
        picture_seconds="—",
        photo_seconds="—",
    )
    assert outbox.texts[-1] == expected
