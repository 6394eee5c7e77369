"""The ✖ under a "queued" message: only the job's owner cancels it; others and late presses get a polite notice.

The use case on the in-memory adapter; then the Telegram frontend in process (aiogram polling the fake Bot API,
the real ``RedisJobs`` and result listener on a real Redis, no worker, so jobs stay queued).
"""

from __future__ import annotations

from functools import partial

import pytest
from aiogram import Bot
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.config import TelegramSettings
from bot.queue import RedisJobs
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from core.protocol import ResultEvent
from handlers.buttons import CANCEL, cancel_keyboard, parse_action
from handlers.ports import ACTION_MAX_BYTES, Button
from handlers.texts import t
from tests import factories
from tests.factories import make_molbert, serving_telegram
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.memory import MemoryJobs, MemoryOutbox

ALICE, BOB, GROUP = 7001, 7002, -1007000000001


chat = partial(factories.chat, chat_id=GROUP, user_id=ALICE)


# --- the use case -------------------------------------------------------------------------------------------


async def test_the_queued_message_carries_a_cancel_button_for_its_job():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    job_id = await make_molbert(jobs).imagine(chat(1), "кот", outbox)
    [status] = outbox.sent
    assert status.buttons == [[Button(t("button_cancel", "ru"), f"x:{job_id}")]]
    assert parse_action(f"x:{job_id}").verb == CANCEL
    english = MemoryOutbox()
    await make_molbert(jobs).imagine(chat(2, lang="en"), "cat", english)
    assert english.sent[0].buttons[0][0].text == "✖ Cancel"


async def test_only_the_owner_cancels_and_a_second_press_is_told_it_is_over():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(chat(1), "кот", outbox)
    action = f"x:{job_id}"
    assert await molbert.press(chat(1000, user_id=BOB), action, "press-1", outbox) == t("cancel_not_yours", "ru")
    assert jobs.cancelled == set()
    assert await molbert.press(chat(1000), action, "press-2", outbox) == t("cancel_pressed", "ru")
    assert jobs.cancelled == {job_id}
    assert await molbert.press(chat(1000), action, "press-3", outbox) == t("cancel_too_late", "ru")
    assert await molbert.press(chat(1000), "x:telegram-imagine-1-404", "press-4", outbox) == t("cancel_too_late", "ru")
    assert len(outbox.sent) == 1, "presses answer with a notice, never a message"


def test_every_job_id_a_platform_makes_fits_the_button():
    longest = "discord-classify-1234567890123456789-1234567890123456789_3"
    [[button]] = cancel_keyboard(longest, "ru")
    assert len(button.action.encode()) <= ACTION_MAX_BYTES
    assert cancel_keyboard("x" * 61, "ru") is None  # too long to answer: no button rather than a dead one


# --- Telegram, in process ----------------------------------------------------------------------------------------


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def frontend(telegram, telegram_dispatcher, redis_conn, aredis):
    """aiogram polling the fake with the real routers, and the result listener, until the test ends."""
    bot: Bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    outbox = TelegramOutbox(bot)
    dispatcher = telegram_dispatcher
    molbert = make_molbert(RedisJobs(redis_conn))
    async with serving_telegram(bot, dispatcher, molbert, outbox, aredis):
        yield


async def test_in_telegram_the_owner_cancels_with_the_button_and_others_are_refused(
    telegram, frontend, redis_conn, aredis
):
    alice = telegram.user(ALICE, "Алиса")
    bob = telegram.user(BOB, "Bob", language_code="en")
    asked = telegram.send_text(GROUP, alice, "/imagine@molbert_test_bot кот в сапогах", chat_type="supergroup")
    status = await telegram.wait_for_message(GROUP, after=asked["message_id"])
    [[button]] = status.reply_markup["inline_keyboard"]
    assert status.text == t("queued_next", "ru") and button["text"] == t("button_cancel", "ru")
    job_id = button["callback_data"].removeprefix("x:")

    telegram.press_button(GROUP, bob, status.message_id, button["callback_data"])
    refused = await telegram.wait_for_call("answerCallbackQuery")
    assert refused["text"] == t("cancel_not_yours", "en")
    assert Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).get_status() == JobStatus.QUEUED

    # progress edits (a running job) keep the ✖, so it can still be stopped
    progress = ResultEvent(job_id=job_id, kind="progress", chat=chat(0), progress=0.5, seconds=3.0)
    await aredis.xadd("molbert:results:telegram", {"event": progress.model_dump_json()})
    await telegram.wait_for(lambda m: m.message_id == status.message_id and m.text.startswith("⏳ Рисую… 50%"))
    assert status.reply_markup["inline_keyboard"][0][0]["callback_data"] == f"x:{job_id}"

    telegram.press_button(GROUP, alice, status.message_id, button["callback_data"])
    await telegram.wait_for_call("answerCallbackQuery", lambda p: p.get("text") == t("cancel_pressed", "ru"))
    await telegram.wait_for(lambda m: m.message_id == status.message_id and m.text == t("cancelled", "ru"))
    assert status.reply_markup is None, "the cancelled message keeps no ✖"
    assert Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).get_status() == JobStatus.CANCELED
    assert [m.message_id for m in telegram.messages(GROUP)] == [status.message_id], "no other message was sent"
