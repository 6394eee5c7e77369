"""Redis stopped while the bot runs: every request that needs it gets the clear "queue unavailable" answer (not
silence), nothing is lost, and the bot serves again as soon as Redis is back."""

from __future__ import annotations

import asyncio

from handlers.texts import t
from tests import images
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack

UNAVAILABLE = t("queue_unavailable", "ru")


async def test_requests_while_redis_is_down_are_answered_and_served_again_when_it_returns(
    own_redis, model_cache_dir, tmp_path
):
    server = own_redis()
    stack = Stack(server.url(), model_cache_dir, tmp_path)
    try:
        async with FakeTelegramAPI() as telegram:
            bot = stack.bot(telegram)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4501, "Алиса")
            await asyncio.to_thread(server.stop)

            for send in (
                lambda: telegram.send_text(alice["id"], alice, "/imagine маяк на скале"),
                lambda: telegram.send_photo(alice["id"], alice, images.png()),
                lambda: telegram.send_text(alice["id"], alice, "/queue"),
                lambda: telegram.send_text(alice["id"], alice, "/labels кошка, собака"),
            ):
                asked = send()
                answer = await telegram.wait_for_message(alice["id"], after=asked["message_id"], timeout=30)
                assert answer.text == UNAVAILABLE, answer.describe()

            await asyncio.to_thread(server.start)
            worker = stack.worker("worker-a")
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            again = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            await telegram.wait_for_photo(alice["id"], after=again["message_id"], timeout=120)
            assert bot.process.poll() is None, bot.log
            assert "Traceback" not in bot.log.split("reconnected to Redis")[-1], bot.log
    finally:
        stack.stop_all()
