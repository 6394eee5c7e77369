"""The frontend SIGKILLed while a job runs, or while a result is still undelivered: after a restart the result
reaches the chat, once (the stream keeps it; the consumer group remembers what was read but not acknowledged)."""

from __future__ import annotations

import asyncio

from rq.job import Job
from rq.serializers import JSONSerializer

from core.keys import result_stream
from core.protocol import GENERATE_QUEUE, RESULT_STREAM_CONSUMER_GROUP
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import kill, poll, running_job


def photos(telegram, chat_id: int) -> list:
    return [m for m in telegram.messages(chat_id) if m.photo is not None]


async def test_a_result_finished_while_the_bot_was_dead_is_delivered_after_restart(stack, redis_conn):
    worker = stack.worker("worker-a")
    async with FakeTelegramAPI() as telegram:
        bot = stack.bot(telegram)
        await worker.wait_for_log("ready: preset tiny", timeout=120)
        await telegram.wait_for_call("setMyCommands", timeout=60)
        alice = telegram.user(4101, "Алиса")
        asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале --steps 20")
        job_id = await poll(lambda: running_job(redis_conn, GENERATE_QUEUE, "worker-a"), 60, "the job to start")
        kill(bot)

        def finished():
            return Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).get_status() == "finished"

        await poll(finished, 120, "the job to finish")
        assert not photos(telegram, alice["id"])
        restarted = stack.bot(telegram)
        await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=60)
        await asyncio.sleep(2)
        assert len(photos(telegram, alice["id"])) == 1
        assert await asyncio.to_thread(restarted.stop) == 0, restarted.log


async def test_a_result_read_but_not_delivered_when_the_bot_died_is_delivered_after_restart(stack, redis_conn):
    worker = stack.worker("worker-a")
    async with FakeTelegramAPI() as telegram:
        telegram.fail_next("sendPhoto", 500, times=1000)  # Telegram down: the listener keeps the result pending
        bot = stack.bot(telegram)
        await worker.wait_for_log("ready: preset tiny", timeout=120)
        await telegram.wait_for_call("setMyCommands", timeout=60)
        alice = telegram.user(4102, "Алиса")
        asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
        await telegram.wait_for_call("sendPhoto", timeout=120)

        def pending() -> int:
            return redis_conn.xpending(result_stream("telegram"), RESULT_STREAM_CONSUMER_GROUP)["pending"]

        await poll(pending, 10, "a pending entry")
        kill(bot)
        telegram.clear_failures()
        restarted = stack.bot(telegram)  # same BOT_INSTANCE: takes its own pending entries first
        await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=60)
        await poll(lambda: pending() == 0, 10, "the entry to be acknowledged")
        await asyncio.sleep(2)
        assert len(photos(telegram, alice["id"])) == 1
        assert await asyncio.to_thread(restarted.stop) == 0, restarted.log
