"""What the end-to-end files share: the fake Telegram Bot API with the real ``python -m bot`` serving it (one-machine
mode, tiny models) and its first user; and the terminal chat (``python -m bot`` with no token) to type into.

The Telegram fixtures are module-scoped: each file that uses them gets its own fake API and its own bot process (with
its embedded Redis and worker), shared by that file's tests."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytest_asyncio

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import REPO, UNLIMITED, ManagedProcess


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot_process(telegram, tmp_path_factory, model_cache_dir):
    """``python -m bot`` with REDIS_URL unset: it starts its own Redis and worker."""
    home = tmp_path_factory.mktemp("bot-home")
    process = ManagedProcess(
        ["-m", "bot"],
        env={
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "MODEL_PRESET": "tiny",
            "MODEL_CACHE_DIR": str(model_cache_dir),
            "BOT_DATA_DIR": str(home / "data"),
        },
        cwd=home,
        log_path=home / "bot.log",
    )
    await telegram.wait_for_call("setMyCommands", timeout=60)
    yield process
    assert await asyncio.to_thread(process.stop) == 0, process.log


@pytest.fixture(scope="module")
def alice(telegram):
    return telegram.user(1001, "Алиса", language_code="ru")


class Console:
    """The terminal chat: ``python -m bot`` with no token, no REDIS_URL and the tiny models, in ``cwd``; lines are
    typed into its input and its output is read line by line by a thread, each read waiting at most ``timeout``
    seconds."""

    def __init__(self, cwd: Path, model_cache_dir: Path, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_", "REDIS_", "MODEL_"))}
        env |= {"PYTHONPATH": str(REPO), "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir), **UNLIMITED}
        self.timeout = timeout
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []  # the lines read so far
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def type(self, line: str) -> None:
        """Type one line, as a user presses Enter."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read_until(self, pattern: str) -> re.Match[str]:
        """Read the output until a line matches ``pattern``."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")

    def typed(self, line: str, until: str) -> str:
        """Type ``line``, then read until a line holds ``until``: what the console printed meanwhile."""
        start = len(self.seen)
        self.type(line)
        self.read_until(re.escape(until))
        return "".join(self.seen[start:])

    def finish(self) -> int:
        """Close the input (the console then waits for the results it queued) and wait for its exit status, with
        everything it printed read."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        status = self.process.wait(timeout=self.timeout)
        self.reader.join(timeout=10)
        return status

    def output(self) -> str:
        """Everything the console printed so far."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


@pytest.fixture
def console(tmp_path, model_cache_dir):
    """``console(timeout)`` starts the terminal chat in ``tmp_path``; one still running at the end is killed."""
    started: list[Console] = []

    def start(timeout: float) -> Console:
        started.append(Console(tmp_path, model_cache_dir, timeout))
        return started[-1]

    yield start
    for chat in started:
        if chat.process.poll() is None:
            chat.process.kill()
