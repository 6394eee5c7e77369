"""Telegram webhook mode end to end: the real ``python -m bot`` serves Telegram's update POSTs (aiogram's aiohttp
integration) instead of long polling, and answers only requests carrying the secret token it registered."""

from __future__ import annotations

import asyncio
import socket

from rq import Queue
from rq.serializers import JSONSerializer

from core.protocol import GENERATE_QUEUE
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import ManagedProcess

SECRET = "webhook-Secret_0123456789"
PUBLIC_URL = "https://molbert.example.test/telegram/hook"  # what a reverse proxy in front of the bot would serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webhook_env(telegram: FakeTelegramAPI, redis_url: str, port: int) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_PATH": "/hook",  # the proxy strips /telegram
        "TELEGRAM_WEBHOOK_HOST": "127.0.0.1",
        "TELEGRAM_WEBHOOK_PORT": str(port),
    }


async def test_webhook_mode_answers_only_updates_with_the_secret(redis_url, redis_conn, tmp_path):
    port = free_port()
    local_url = f"http://127.0.0.1:{port}/hook"
    async with FakeTelegramAPI() as telegram:
        bot = ManagedProcess(
            ["-m", "bot"], webhook_env(telegram, redis_url, port), cwd=tmp_path, log_path=tmp_path / "bot.log"
        )
        try:
            registered = await telegram.wait_for_call("setWebhook", timeout=60)
            assert registered["url"] == PUBLIC_URL
            assert registered["secret_token"] == SECRET
            assert "message" in registered["allowed_updates"]
            await telegram.wait_for_call("setMyCommands")

            alice = telegram.user(4004, "Алиса")
            telegram.send_text(alice["id"], alice, "/start")
            start = telegram.updates[-1]
            assert await telegram.post_update(start, url=local_url, secret_token="wrong-secret") == 401
            assert await telegram.post_update(start, url=local_url, secret_token=None) == 401
            assert await telegram.post_update(start, url=f"http://127.0.0.1:{port}/telegram/hook") == 404
            await asyncio.sleep(1.0)
            assert telegram.messages(alice["id"]) == [], "an update without the secret must not be handled"

            assert await telegram.post_update(start, url=local_url) == 200
            greeting = await telegram.wait_for_message(alice["id"], timeout=30)
            assert greeting.text.startswith("Привет, Алиса!")

            asked = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            assert await telegram.post_update(telegram.updates[-1], url=local_url) == 200
            status = await telegram.wait_for_message(alice["id"], after=asked["message_id"], timeout=30)
            assert status.text.startswith("⏳")
            assert Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer).count == 1

            assert telegram.calls_to("getUpdates") == []
        finally:
            code = await asyncio.to_thread(bot.stop)
        assert code == 0, bot.log
        assert telegram.calls_to("deleteWebhook") == [], "a replica stopping must not unset the shared webhook"
        assert telegram.webhook is not None and telegram.webhook["url"] == PUBLIC_URL
    assert SECRET not in bot.log and telegram.token not in bot.log


async def test_webhook_mode_without_a_secret_stops_with_one_clear_line(redis_url, tmp_path):
    async with FakeTelegramAPI() as telegram:
        env = webhook_env(telegram, redis_url, free_port())
        del env["TELEGRAM_WEBHOOK_SECRET"]
        bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        assert await bot.wait_for_exit(60) == 2, bot.log
        assert telegram.calls_to("setWebhook") == []
    last_line = bot.log.strip().splitlines()[-1]
    assert last_line == "Configuration error: TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_WEBHOOK_URL is set"
