"""Redis vanishing (SIGKILL) while a worker is in the middle of a picture, and coming back from its AOF file: the
worker and the bot reconnect by themselves, the cut-off job runs again, and the user gets exactly one picture."""

from __future__ import annotations

import asyncio
import time

import redis

from core.protocol import GENERATE_QUEUE
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack, poll, running_job, slow_generator
from workers.worker import ABANDONED_AFTER, MAINTENANCE_INTERVAL

AOF = ("--appendonly", "yes", "--appendfsync", "everysec")
# Redis back, then the run it cut off is found abandoned and started again (docs/reliability.md), then painted.
RECOVERY_BOUND = ABANDONED_AFTER + 2 * MAINTENANCE_INTERVAL + 60


def photos(telegram, chat_id: int) -> list:
    return [m for m in telegram.messages(chat_id) if m.photo is not None]


async def test_a_job_cut_off_by_a_lost_redis_runs_again_and_is_delivered_once(
    own_redis, model_cache_dir, tiny_models, tmp_path
):
    server = own_redis(*AOF)
    stack = Stack(server.url(), model_cache_dir, tmp_path)
    try:
        async with FakeTelegramAPI() as telegram:
            generator = slow_generator(model_cache_dir, tmp_path, steps=60)
            worker = stack.worker("worker-a", MODEL_GENERATOR=str(generator))
            bot = stack.bot(telegram)
            await worker.wait_for_log("ready: preset tiny", timeout=180)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4901, "Алиса")
            asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")

            connection = redis.Redis.from_url(server.url())
            await poll(lambda: running_job(connection, GENERATE_QUEUE, "worker-a"), 60, "the job to start")
            connection.close()
            await asyncio.sleep(1.5)  # appendfsync everysec: the job's start is on disk
            await asyncio.to_thread(server.kill)
            lost_at = time.monotonic()
            await asyncio.sleep(3)
            await asyncio.to_thread(server.start)

            await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=RECOVERY_BOUND)
            delivered_after = time.monotonic() - lost_at
            print(f"\nRedis lost mid-job: picture delivered {delivered_after:.1f} s after (bound {RECOVERY_BOUND} s)")
            await asyncio.sleep(5)  # a second delivery would come now
            assert len(photos(telegram, alice["id"])) == 1, [m.describe() for m in telegram.messages(alice["id"])]
            assert worker.process.poll() is None, worker.log
            assert bot.process.poll() is None, bot.log
            assert "reconnect" in worker.log.lower(), worker.log
            assert "reconnected to Redis" in bot.log, bot.log
            assert await asyncio.to_thread(bot.stop) == 0, bot.log
            assert await asyncio.to_thread(worker.stop) == 0, worker.log
    finally:
        stack.stop_all()
