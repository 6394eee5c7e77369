"""A malformed entry in the real bot's result stream is dead-lettered, and the bot goes on delivering."""

from __future__ import annotations

import asyncio

from bot.results import DEAD_LETTER_SUFFIX
from core.keys import result_stream
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import poll


async def test_a_poison_event_is_dead_lettered_and_the_next_result_delivered(stack, redis_conn):
    stream = result_stream("telegram")
    worker = stack.worker("worker-a")
    async with FakeTelegramAPI() as telegram:
        bot = stack.bot(telegram)
        await worker.wait_for_log("ready: preset tiny", timeout=120)
        await telegram.wait_for_call("setMyCommands", timeout=60)
        redis_conn.xadd(stream, {"event": b"{not json"})
        redis_conn.xadd(stream, {"something": b"else"})
        await poll(lambda: redis_conn.xlen(stream + DEAD_LETTER_SUFFIX) == 2, 30, "two dead-lettered entries")
        alice = telegram.user(4501, "Алиса")
        asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
        await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=120)
        assert bot.process.poll() is None, bot.log
        assert "malformed result event" in bot.log
        assert await asyncio.to_thread(bot.stop) == 0, bot.log
