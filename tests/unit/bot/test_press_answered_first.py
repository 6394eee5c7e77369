"""A button press is acknowledged to the client at once and its work follows: in Telegram the answerCallbackQuery
comes before the pictures U sends (Discord's and the terminal's are in test_discord.py, test_console_session.py).

aiogram polls the fake Bot API in process with the real routers, the real ``RedisJobs`` and result listener on a real
Redis; the real worker paints on the tiny preset.
"""

from __future__ import annotations

import pytest
from aiogram import Bot

from bot.config import TelegramSettings
from bot.queue import RedisJobs
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from handlers.texts import t
from tests.factories import make_molbert, serving_telegram
from tests.fakes.telegram_api import FakeTelegramAPI

ALICE = 7101


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
async def frontend(telegram, telegram_dispatcher, redis_conn, aredis):
    """aiogram polling the fake with the real routers, and the result listener, until the test ends."""
    bot: Bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    outbox = TelegramOutbox(bot)
    molbert = make_molbert(RedisJobs(redis_conn))
    async with serving_telegram(bot, telegram_dispatcher, molbert, outbox, aredis):
        yield


async def test_u_is_answered_before_its_uploads(telegram, frontend, run_worker):
    alice = telegram.user(ALICE, "Алиса")
    asked = telegram.send_text(ALICE, alice, "/imagine маяк на скале --n 2")
    await telegram.wait_for_message(ALICE, after=asked["message_id"])  # the "queued" status
    run_worker()
    grid = await telegram.wait_for_photo(ALICE, after=asked["message_id"], timeout=30)
    u2 = grid.reply_markup["inline_keyboard"][0][1]["callback_data"]
    pressed_at = len(telegram.calls)
    query = telegram.press_button(ALICE, alice, grid.message_id, u2)
    await telegram.wait_for_document(ALICE, after=grid.message_id)
    order = [method for method, _ in telegram.calls[pressed_at:] if method not in ("getUpdates", "deleteMessage")]
    assert order[:3] == ["answerCallbackQuery", "sendPhoto", "sendDocument"], order
    [answer] = [
        params for params in telegram.calls_to("answerCallbackQuery") if params["callback_query_id"] == query["id"]
    ]
    assert answer["text"] == t("button_sending", "ru")
