"""Secrets never reach the logs: the real bot (at BOT_LOG_LEVEL=DEBUG) and worker run a job end to end against a
redis-server that requires a password, and neither captured log holds the bot token's secret part or the password."""

from __future__ import annotations

import asyncio

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack

REDIS_PASSWORD = "Rp4ss-7c1e9a0d-never-logged"


async def test_the_token_and_the_redis_password_stay_out_of_the_logs(own_redis, model_cache_dir, tmp_path):
    server = own_redis("--requirepass", REDIS_PASSWORD)
    stack = Stack(server.url(REDIS_PASSWORD), model_cache_dir, tmp_path)
    try:
        worker = stack.worker("worker-a")
        async with FakeTelegramAPI() as telegram:
            bot = stack.bot(telegram, BOT_LOG_LEVEL="DEBUG")
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4301, "Алиса")
            asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=120)
            # stopped from a thread: the fake Bot API runs on this loop and must answer the bot's last calls
            assert await asyncio.to_thread(bot.stop) == 0, bot.log
            assert await asyncio.to_thread(worker.stop) == 0, worker.log
    finally:
        stack.stop_all()
    token_secret = telegram.token.split(":", 1)[1]
    assert "DEBUG" in bot.log  # the debug level really was on
    for process in (bot, worker):
        assert token_secret not in process.log, process.log
        assert REDIS_PASSWORD not in process.log, process.log
