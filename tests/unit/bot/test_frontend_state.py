"""The Telegram frontend keeps no state per user that nothing ever forgets: a bot in many chats must not grow
with the number of people who once wrote to it (bench/frontend_soak.py watches the whole process)."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import TelegramSettings
from bot.telegram.app import create_bot
from bot.telegram.outbox import TelegramOutbox
from tests.factories import make_molbert
from tests.fakes.telegram_api import FakeTelegramAPI

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = 20


async def test_answering_many_users_leaves_no_per_user_record_in_the_dispatcher(telegram_dispatcher):
    async with FakeTelegramAPI() as telegram:
        bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
        polling = asyncio.create_task(
            telegram_dispatcher.start_polling(
                bot, handle_signals=False, molbert=make_molbert(), outbox=TelegramOutbox(bot)
            )
        )
        try:
            for n in range(USERS):
                user = telegram.user(9100 + n, f"Гость {n}")
                telegram.send_text(user["id"], user, "/help")
            for n in range(USERS):
                await telegram.wait_for_message(9100 + n, timeout=30)
        finally:
            await telegram_dispatcher.stop_polling()
            await polling
            await bot.session.close()
    # aiogram's FSM (unused here) would keep a MemoryStorage record for every chat and user it ever saw
    assert len(telegram_dispatcher.fsm.storage.storage) == 0
