"""Starting the real processes (``python -m bot``, ``python -m workers``) from tests, with their logs kept."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Variables a developer's shell or .env may set that would change what the process under test does.
_SCRUBBED = ("REDIS_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DISCORD_TOKEN", "MODEL_PRESET", "MODEL_DEVICE")


# End-to-end suites send dozens of jobs from one test user within a minute; fair-use limits are tested on their own
# (tests/unit/handlers/test_limits.py, and an end-to-end case that sets them), so processes start with them off unless
# told.
UNLIMITED = {
    "LIMIT_CONCURRENT_PER_USER": "0",
    "LIMIT_PER_USER_PER_MINUTE": "0",
    "LIMIT_PER_USER_PER_DAY": "0",
    "LIMIT_PER_CHAT_PER_MINUTE": "0",
}

# Many processes run at once (and other suites on the same machine): no metrics server unless a test asks for one.
NO_METRICS = {"BOT_METRICS_PORT": "0", "WORKER_METRICS_PORT": "0"}


class ManagedProcess:
    """A child process whose combined output goes to ``log_path``; stopped with SIGTERM like a service."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        base = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")]))
        base["PYTHONUNBUFFERED"] = "1"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *args],
            env={**base, **UNLIMITED, **NO_METRICS, **env},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_for_log(self, fragment: str, timeout: float = 60.0) -> None:
        """Wait until ``fragment`` appears in the output (or fail showing the output), without blocking the loop."""
        await asyncio.to_thread(self._block_until_logged, fragment, timeout)

    async def wait_for_exit(self, timeout: float = 60.0) -> int:
        """Wait for the process to end by itself, without blocking the loop; return its exit code."""
        return await asyncio.to_thread(self.process.wait, timeout)

    def _block_until_logged(self, fragment: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while fragment not in self.log:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{fragment!r} never appeared; output:\n{self.log}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for a clean exit, and return the exit code (killing it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"process ignored SIGTERM for {timeout} s; output:\n{self.log}") from None
        self._log.close()
        return self.process.returncode
