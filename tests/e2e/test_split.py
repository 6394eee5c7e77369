"""End to end in the production layout: ``python -m workers`` and a frontend-only ``python -m bot`` sharing
one Redis (``REDIS_URL`` set), as on several machines; the frontend process never loads torch."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image
from rq import Queue
from rq.serializers import JSONSerializer

from core.protocol import GENERATE_QUEUE
from handlers.texts import t
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import ManagedProcess


def loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


async def test_frontend_and_worker_as_separate_services(redis_url, redis_conn, model_cache_dir, tmp_path):
    env = {"REDIS_URL": redis_url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir)}
    worker = ManagedProcess(["-m", "workers"], env, cwd=tmp_path, log_path=tmp_path / "worker.log")
    async with FakeTelegramAPI() as telegram:
        bot_env = {"REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_URL": telegram.base_url}
        bot = ManagedProcess(["-m", "bot"], bot_env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        try:
            await telegram.wait_for_call("setMyCommands", timeout=60)
            await worker.wait_for_log("ready: preset tiny")
            alice = telegram.user(3003, "Алиса")
            asked = telegram.send_text(alice["id"], alice, "/imagine@molbert_test_bot маяк на скале")
            photo = await telegram.wait_for_photo(alice["id"], after=asked["message_id"], timeout=120)
            assert Image.open(io.BytesIO(photo.photo)).format == "PNG"
            assert "libtorch" not in loaded_libraries(bot.process.pid)
            assert "libtorch" in loaded_libraries(worker.process.pid)
            assert "embedded Redis" not in bot.log
            assert Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer).count == 0
        finally:
            bot_code = await asyncio.to_thread(bot.stop)
            worker_code = await asyncio.to_thread(worker.stop)
    assert (bot_code, worker_code) == (0, 0), bot.log + worker.log


async def test_a_token_telegram_rejects_stops_the_bot_with_one_clear_line(redis_url, tmp_path):
    async with FakeTelegramAPI() as telegram:
        wrong_token = "987654:AAWrong-token-that-telegram-does-not-know"
        env = {"REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": wrong_token, "TELEGRAM_API_URL": telegram.base_url}
        bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        assert await bot.wait_for_exit(60) == 2, bot.log
    last_line = bot.log.strip().splitlines()[-1]
    assert last_line == "Configuration error: TELEGRAM_BOT_TOKEN: Telegram rejected this token (Unauthorized)"
    assert "Wrong-token" not in bot.log


async def test_fair_use_limits_are_enforced_by_the_real_bot(redis_url, tmp_path):
    """No worker runs: the first picture stays queued, so a second one goes over LIMIT_CONCURRENT_PER_USER=1."""
    async with FakeTelegramAPI() as telegram:
        env = {
            "REDIS_URL": redis_url,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "LIMIT_CONCURRENT_PER_USER": "1",
        }
        bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        try:
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4004, "Алиса")
            first = telegram.send_text(alice["id"], alice, "/imagine кот")
            await telegram.wait_for_text(alice["id"], "⏳", after=first["message_id"])
            second = telegram.send_text(alice["id"], alice, "/imagine пёс")
            refusal = await telegram.wait_for_message(alice["id"], after=second["message_id"])
            assert refusal.text == t("limit_concurrent", "ru", count=1)
        finally:
            assert await asyncio.to_thread(bot.stop) == 0, bot.log


async def test_queue_and_cancel_in_telegram(redis_url, tmp_path):
    """No worker runs, so the picture waits: /queue shows it, /cancel removes it and its status says so."""
    async with FakeTelegramAPI() as telegram:
        env = {"REDIS_URL": redis_url, "TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_URL": telegram.base_url}
        bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        try:
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(5005, "Алиса")
            asked = telegram.send_text(alice["id"], alice, "/imagine кот в сапогах")
            status = await telegram.wait_for_text(alice["id"], "⏳", after=asked["message_id"])
            listing = telegram.send_text(alice["id"], alice, "/queue")
            answer = await telegram.wait_for_message(alice["id"], after=listing["message_id"])
            assert "«кот в сапогах» — место в очереди: 1." in answer.text
            cancel = telegram.send_text(alice["id"], alice, "/cancel")
            done = await telegram.wait_for_message(alice["id"], after=cancel["message_id"])
            assert done.text == t("cancel_done", "ru", count=1)
            await telegram.wait_for_text(alice["id"], t("cancelled", "ru"), after=status.message_id - 1)
        finally:
            assert await asyncio.to_thread(bot.stop) == 0, bot.log
