"""Connections to Redis that went silent: a Redis restart behind a container network or a NAT that forgot the
bot's connections leaves its pooled sockets open with nobody answering on them (no FIN, no RST). The next command
on one must not fail the user's request or the delivery: it times out, and the client retries it on a new
connection at once (the delivery of a failed result is only retried a minute or two later)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import Stack


class SilencingProxy:
    """A TCP proxy to Redis whose open connections can be made to go silent: what the client sends on them is
    swallowed and nothing comes back, while new connections are forwarded as usual."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.silenced: list[asyncio.Event] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def silence(self) -> None:
        """Every connection open now goes silent (new ones still work)."""
        for event in self.silenced:
            event.set()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        silent = asyncio.Event()
        self.silenced.append(silent)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                if not silent.is_set():
                    writer.write(data)
                    await writer.drain()

        with contextlib.suppress(ConnectionError):
            await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_requests_and_results_go_on_when_the_bots_redis_connections_go_silent(
    own_redis, model_cache_dir, tmp_path
):
    port = free_port()
    own_redis("--port", str(port))
    proxy = SilencingProxy(("127.0.0.1", port))
    stack = Stack(f"redis://127.0.0.1:{await proxy.start()}/0", model_cache_dir, tmp_path)
    try:
        async with FakeTelegramAPI() as telegram:
            worker = stack.worker("worker-a", REDIS_URL=f"redis://127.0.0.1:{port}/0")  # the worker's are not cut
            bot = stack.bot(telegram)
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            alice = telegram.user(4601, "Алиса")
            first = telegram.send_text(alice["id"], alice, "/imagine кот")
            await telegram.wait_for_photo(alice["id"], after=first["message_id"], timeout=120)

            proxy.silence()
            again = telegram.send_text(alice["id"], alice, "/imagine маяк на скале")
            status = await telegram.wait_for_message(alice["id"], after=again["message_id"], timeout=60)
            assert status.text.startswith("⏳"), status.describe()
            await telegram.wait_for_photo(alice["id"], after=again["message_id"], timeout=120)
            assert "could not deliver" not in bot.log, bot.log
    finally:
        stack.stop_all()
        await proxy.stop()
