"""Telegram send pacing: one message a second per chat, twenty a minute per group, edits coalesced, other chats
never held up. Through the real aiogram ``Bot`` (``create_bot``) and ``TelegramOutbox`` against the fake Bot API,
which records when each call arrived; the window itself on a fake clock."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import TelegramSettings
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.pacing import PER_GROUP, Rate, SlidingWindow, TelegramPacing, is_group
from bot.telegram.retry import TelegramRetry
from core.protocol import ChatRef
from tests.fakes.telegram_api import FakeTelegramAPI

ALICE, BOB, GROUP = 5001, 5002, -1001234567890


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        alice = fake.user(ALICE, "Алиса")
        fake.user(BOB, "Боб")
        fake.send_text(GROUP, alice, "привет", chat_type="supergroup")  # the group exists for the fake now
        yield fake


@pytest.fixture
async def outbox(telegram):
    bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    yield TelegramOutbox(bot)
    await bot.session.close()


def chat(chat_id: int) -> ChatRef:
    return ChatRef(platform="telegram", chat_id=chat_id, user_id=ALICE)


def arrivals(telegram: FakeTelegramAPI, chat_id: int, method: str = "sendMessage") -> list[float]:
    return [when for when, params in telegram.timed_calls_to(method) if params["chat_id"] == chat_id]


async def test_a_short_burst_goes_out_at_once_then_one_a_second_while_another_chat_is_not_held_up(telegram, outbox):
    started = time.monotonic()
    await asyncio.gather(
        *(outbox.send_text(chat(ALICE), f"сообщение {n}") for n in range(6)),
        outbox.send_text(chat(BOB), "для Боба"),
    )
    alice = arrivals(telegram, ALICE)
    assert len(alice) == 6
    assert alice[2] - started < 0.5  # "queued", the picture and its file: no waiting
    assert all(later - earlier >= 2.95 for earlier, later in zip(alice, alice[3:], strict=False))  # ≤ 3 in any 3 s
    assert alice[-1] - alice[0] >= 2.95  # the second three wait for the first three's window
    [bob] = arrivals(telegram, BOB)
    assert bob - started < 0.5  # Alice's chat waiting did not make Bob's wait
    assert [m.text for m in telegram.messages(ALICE)] == [f"сообщение {n}" for n in range(6)]  # in order, once each


async def test_a_group_gets_at_most_its_share_in_any_window(telegram):
    """Small rates (3 messages per 1.5 s in a group) so the test is quick; the code path is the real one."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.base_url))
    bot = Bot(token=telegram.token, session=session)
    bot.session.middleware(TelegramRetry())
    bot.session.middleware(TelegramPacing(per_chat=Rate(1, 0.05), per_group=Rate(3, 1.5)))
    outbox = TelegramOutbox(bot)
    try:
        started = time.monotonic()
        await asyncio.gather(
            *(outbox.send_text(chat(GROUP), f"в группу {n}") for n in range(7)),
            outbox.send_text(chat(BOB), "для Боба"),
        )
    finally:
        await bot.session.close()
    group = arrivals(telegram, GROUP)
    assert len(group) == 7
    for first in range(len(group) - 3):
        assert group[first + 3] - group[first] >= 1.45  # never a fourth message within 1.5 s
    assert group[2] - started < 0.5  # the first three go at once (a burst within the group's share)
    [bob] = arrivals(telegram, BOB)
    assert bob - started < 0.5  # a private chat is not behind the group


async def test_edits_waiting_for_their_turn_coalesce_and_the_newest_text_wins(telegram, outbox):
    message_id = await outbox.send_text(chat(ALICE), "⏳ в очереди")
    await asyncio.gather(*(outbox.edit_text(chat(ALICE), message_id, f"⏳ Рисую… {p}%") for p in (20, 40, 60)))
    await outbox.edit_text(chat(ALICE), message_id, "✖ Задача отменена.")
    edits = telegram.calls_to("editMessageText")
    assert [e["text"] for e in edits] == ["⏳ Рисую… 60%", "✖ Задача отменена."]  # 20 % and 40 % never went out
    [message] = telegram.messages(ALICE)
    assert message.text == "✖ Задача отменена."
    sent, *edited = arrivals(telegram, ALICE, "sendMessage") + arrivals(telegram, ALICE, "editMessageText")
    assert edited[0] - sent >= 0.95 and edited[1] - edited[0] >= 0.95  # edits share the chat's one a second


async def test_a_429_is_waited_out_and_never_becomes_a_second_message(telegram, outbox):
    telegram.fail_next("sendMessage", 429, retry_after=1)
    await outbox.send_text(chat(ALICE), "один раз")
    assert [m.text for m in telegram.messages(ALICE)] == ["один раз"]
    assert len(telegram.calls_to("sendMessage")) == 2  # refused once, then sent


async def test_chat_actions_callback_answers_and_deletions_are_not_paced(telegram, outbox):
    first = await outbox.send_text(chat(ALICE), "раз")
    second = await outbox.send_text(chat(ALICE), "два")
    started = time.monotonic()
    await outbox.bot.send_chat_action(ALICE, "typing")
    await outbox.delete_message(chat(ALICE), first)
    await outbox.delete_message(chat(ALICE), second)
    assert time.monotonic() - started < 0.5


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_the_group_window_lets_20_through_then_waits_a_full_minute_not_a_refill():
    clock = FakeClock()
    window = SlidingWindow((Rate(1, 1.0), PER_GROUP), clock=clock, sleep=clock.sleep)
    passes = []
    for _ in range(41):
        await window.acquire()
        passes.append(clock.now)
    for first in range(len(passes) - 20):
        assert passes[first + 20] - passes[first] >= 60.0  # never 21 within a minute
    assert passes[:3] == [0.0, 1.0, 2.0]  # and one a second in the chat meanwhile
    assert passes[20] == 60.0


def test_groups_and_channels_are_told_from_private_chats():
    assert is_group(-1001234567890) and is_group("@molbert_news") and is_group("-42")
    assert not is_group(5001) and not is_group("5001")
