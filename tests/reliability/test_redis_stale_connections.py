"""Redis restarted while the bot and a worker sit idle: the connections they pooled before are dead, and the first
commands after the restart must reconnect at once, not fail (a failed delivery waits a minute for its retry)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack

pytestmark = pytest.mark.reliability


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_the_first_result_after_a_redis_restart_is_delivered_at_the_first_attempt(
    own_redis, model_cache_dir, tmp_path
):
    port = free_port()  # over TCP, as in production: a restart leaves the pooled sockets half-open, not gone
    server = own_redis("--appendonly", "yes", "--port", str(port))
    stack = Stack(f"redis://127.0.0.1:{port}/0", model_cache_dir, tmp_path)
    try:
        async with FakeTelegramAPI() as telegram:
            worker = stack.worker("worker-a")
            bot = stack.bot(telegram)
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4601, "Алиса")
            first = telegram.send_text(alice["id"], alice, "/imagine кот")
            await telegram.wait_for_photo(alice["id"], after=first["message_id"], timeout=120)

            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
            await asyncio.sleep(3)  # everyone idle on connections made before the restart
            again = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            status = await telegram.wait_for_message(alice["id"], after=again["message_id"], timeout=30)
            assert status.text.startswith("⏳"), status.describe()
            await telegram.wait_for_photo(alice["id"], after=again["message_id"], timeout=120)
            assert "could not deliver" not in bot.log, bot.log
    finally:
        stack.stop_all()
