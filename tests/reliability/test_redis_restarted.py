"""Redis restarted (SIGTERM, AOF everysec) while jobs wait in the queue: the jobs survive, the bot and the worker
reconnect by themselves, and every result reaches the chat once."""

from __future__ import annotations

import asyncio

import redis

from core.protocol import GENERATE_QUEUE
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack, poll

AOF = ("--appendonly", "yes", "--appendfsync", "everysec")


def photos(telegram, chat_id: int) -> list:
    return [m for m in telegram.messages(chat_id) if m.photo is not None]


def queued(server) -> int:
    connection = redis.Redis.from_url(server.url())
    try:
        return connection.llen(f"rq:queue:{GENERATE_QUEUE}")
    finally:
        connection.close()


def loaded(server) -> bool:
    """Whether the restarted server has read its AOF back (until then it answers LOADING to every command)."""
    connection = redis.Redis.from_url(server.url())
    try:
        return bool(connection.ping())
    except redis.BusyLoadingError:
        return False
    finally:
        connection.close()


async def restart(server, down_for: float) -> None:
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(down_for)
    await asyncio.to_thread(server.start)
    await poll(lambda: loaded(server), 30, "Redis to load its data")  # a loaded machine reads the AOF slowly


async def test_queued_jobs_survive_a_redis_restart_and_everyone_reconnects(own_redis, model_cache_dir, tmp_path):
    server = own_redis(*AOF)
    stack = Stack(server.url(), model_cache_dir, tmp_path)
    try:
        async with FakeTelegramAPI() as telegram:
            bot = stack.bot(telegram)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4401, "Алиса")
            first = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            telegram.send_text(alice["id"], alice, "/imagine кот в сапогах")
            await poll(lambda: queued(server) == 2, 30, "two queued jobs")
            await asyncio.sleep(1.5)  # appendfsync everysec: what was written a second ago is on disk
            await restart(server, down_for=3)  # no worker yet: the jobs only live in the restarted Redis
            assert queued(server) == 2

            worker = stack.worker("worker-a")
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            await poll(lambda: len(photos(telegram, alice["id"])) == 2, 120, "both pictures")
            assert bot.process.poll() is None, bot.log

            await restart(server, down_for=3)  # now with the worker idle on the queue and the bot listening
            third = telegram.send_text(alice["id"], alice, "/imagine дом у реки")
            await telegram.wait_for_photo(alice["id"], after=third["message_id"], timeout=120)
            await asyncio.sleep(2)
            assert len(photos(telegram, alice["id"])) == 3
            assert first["message_id"] < third["message_id"]
            assert worker.process.poll() is None, worker.log
            assert "could not connect to Redis" in worker.log  # RQ's dequeue loop, retrying with back-off
            assert "Redis unreachable" in bot.log and "reconnected to Redis" in bot.log
            assert await asyncio.to_thread(bot.stop) == 0, bot.log
            assert await asyncio.to_thread(worker.stop) == 0, worker.log
    finally:
        stack.stop_all()
