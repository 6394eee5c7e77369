"""Faults with every piece a real process (redis-server, ``python -m bot``, ``python -m workers``) and the fake
Bot API in the test: Telegram answering 429/5xx or cutting a connection while the result goes out, and a job
that fails on every retry. Each ends in exactly one answer to the user.

(tests/reliability/test_telegram_failures.py has the finer cases in process, where the timing can be steered.)
"""

from __future__ import annotations

import asyncio

from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from core.keys import input_key
from core.protocol import CLASSIFY_QUEUE
from tests import images
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import poll
from workers.jobs import error_reference


def photos(telegram, chat_id: int) -> list:
    return [m for m in telegram.messages(chat_id) if m.photo is not None]


async def settle() -> None:
    """Give a wrongly repeated delivery time to show up (the listener reclaims pending results after 30 s at
    most, and retries within a call come within seconds)."""
    await asyncio.sleep(3)


async def test_429_5xx_and_a_cut_connection_while_delivering_each_end_in_one_picture(stack, model_cache_dir):
    async with FakeTelegramAPI() as telegram:
        worker = stack.worker("worker-a")
        bot = stack.bot(telegram)
        await worker.wait_for_log("ready: preset tiny", timeout=180)
        await telegram.wait_for_call("setMyCommands", timeout=60)
        cases = [
            ("429 retry_after=2", lambda: telegram.fail_next("sendPhoto", 429, retry_after=2), 2),
            ("502 twice", lambda: telegram.fail_next("sendPhoto", 502, times=2), 3),
            ("cut off after Telegram sent it", lambda: telegram.drop_next("sendPhoto", after_handling=True), 1),
        ]
        for number, (what, inject, expected_calls) in enumerate(cases):
            user = telegram.user(4700 + number, f"Гость {number}")
            inject()
            calls_before = len(telegram.calls_to("sendPhoto"))
            asked = telegram.send_text(user["id"], user, f"/imagine маяк номер {number}")
            await telegram.wait_for_photo(user["id"], after=asked["message_id"], timeout=120)
            await settle()
            assert len(photos(telegram, user["id"])) == 1, what
            assert len(telegram.calls_to("sendPhoto")) - calls_before == expected_calls, what
        assert bot.process.poll() is None, bot.log
        assert "Telegram asks to wait 2 s" in bot.log  # the 429 was seen and waited out
        assert await asyncio.to_thread(bot.stop) == 0, bot.log


async def test_a_job_that_fails_every_retry_is_answered_once_with_a_reference(stack, redis_conn):
    async with FakeTelegramAPI() as telegram:
        bot = stack.bot(telegram)  # no worker yet: the photo waits in the queue
        await telegram.wait_for_call("setMyCommands", timeout=60)
        alice = telegram.user(4801, "Алиса")
        sent = telegram.send_photo(alice["id"], alice, images.png(64, 64), caption="кошка, собака")
        job_id = await poll(lambda: _queued_classification(redis_conn), 30, "the classification job")
        redis_conn.set(input_key(job_id), b"\x89PNG\r\n\x1a\n broken on the way")  # every attempt fails on it

        worker = stack.worker("worker-a")
        await worker.wait_for_log("ready: preset tiny", timeout=180)
        reference = error_reference(job_id)
        answer = await telegram.wait_for_text(alice["id"], reference, after=sent["message_id"], timeout=120)
        await settle()

        texts = [m.content for m in telegram.messages(alice["id"]) if m.message_id >= answer.message_id]
        assert [t for t in texts if reference in t] == [answer.content]  # one answer
        assert "Traceback" not in answer.content and "UnidentifiedImageError" not in answer.content
        job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
        assert (job.get_status(), job.retries_left) == ("failed", 0)
        assert job_id in FailedJobRegistry(CLASSIFY_QUEUE, connection=redis_conn)  # kept for the operator
        assert worker.log.count("Traceback") >= 3  # each attempt's traceback is in the worker log
        assert await asyncio.to_thread(bot.stop) == 0, bot.log


def _queued_classification(redis_conn) -> str | None:
    ids = redis_conn.lrange(f"rq:queue:{CLASSIFY_QUEUE}", 0, -1)
    return ids[0].decode() if ids else None
