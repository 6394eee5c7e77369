"""Observability of the real processes: Prometheus metrics, JSON logs with hashed users and the health endpoints
and commands of ``python -m bot`` (frontend only, fake Bot API) and ``python -m workers`` (tiny models), against a
redis-server of their own, so that the test can stop Redis at the end and see both processes report unhealthy.
(The in-process parts are in tests/unit/core/test_observability.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from core import telemetry
from core.protocol import STAGES, ChatRef
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import REPO
from tests.reliability.conftest import RedisServer, Stack

USER_ID = 918273645  # appears nowhere in the logs, only its hash
GROUP_ID = -100555444
USER_KEY = "test-log-key"
DURATIONS = ("enqueue_ms", "wait_ms", "model_ms", "publish_ms", "deliver_ms", "total_ms", "overhead_ms")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """``/metrics`` as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def wait_for_health(port: int, healthy: bool, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, checks = await asyncio.to_thread(health, port)
            if (status == 200) == healthy:
                return checks
        except OSError:
            checks = {}
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port} never became {'healthy' if healthy else 'unhealthy'}: {checks}")
        await asyncio.sleep(0.3)


def health_command(module: str, variable: str, port: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO), variable: str(port)}
    result = subprocess.run([sys.executable, "-m", module, "health"], env=env, capture_output=True, timeout=60)
    return result.returncode


def json_lines(log: str) -> list[dict]:
    records = []
    for line in log.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


async def test_metrics_logs_and_health_of_the_real_processes(model_cache_dir, tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    stack = Stack(server.url(), model_cache_dir, tmp_path)
    bot_port, worker_port = free_port(), free_port()
    logging_env = {"LOG_FORMAT": "json", "LOG_USER_KEY": USER_KEY}
    try:
        worker = stack.worker("worker", WORKER_METRICS_PORT=str(worker_port), **logging_env)
        async with FakeTelegramAPI() as telegram:
            bot = stack.bot(telegram, BOT_METRICS_PORT=str(bot_port), **logging_env)
            await worker.wait_for_log("ready: preset tiny", timeout=120)
            await telegram.wait_for_call("setMyCommands", timeout=60)
            assert await wait_for_health(bot_port, healthy=True) == {
                "healthy": True,
                "redis": True,
                "frontends": True,
                "event_loop": True,
            }
            assert (await wait_for_health(worker_port, healthy=True))["models"] is True
            assert await asyncio.to_thread(health_command, "bot", "BOT_METRICS_PORT", bot_port) == 0
            assert await asyncio.to_thread(health_command, "workers", "WORKER_METRICS_PORT", worker_port) == 0

            alice = telegram.user(USER_ID, "Алиса")
            telegram.fail_next("sendPhoto", 429, retry_after=1)  # the bot waits it out and sends again
            asked = telegram.send_text(GROUP_ID, alice, "/imagine маяк на скале", chat_type="supergroup")
            await telegram.wait_for_photo(GROUP_ID, after=asked["message_id"], timeout=120)
            job_id = f"telegram-imagine-m{-GROUP_ID}-{asked['message_id']}"

            await _eventually(lambda: "job_delivered" in bot.log)
            bot_metrics = await asyncio.to_thread(scrape, bot_port)
            worker_metrics = await asyncio.to_thread(scrape, worker_port)

            server.stop()  # Redis gone: both processes say so
            assert (await wait_for_health(bot_port, healthy=False))["redis"] is False
            assert (await wait_for_health(worker_port, healthy=False))["redis"] is False
            assert await asyncio.to_thread(health_command, "bot", "BOT_METRICS_PORT", bot_port) == 1
            assert await asyncio.to_thread(health_command, "workers", "WORKER_METRICS_PORT", worker_port) == 1
            await asyncio.to_thread(bot.stop)
        await asyncio.to_thread(worker.stop)
    finally:
        stack.stop_all()
        server.stop()

    imagine = (("kind", "imagine"),)
    assert bot_metrics[("molbert_jobs_enqueued_total", imagine)] == 1
    assert bot_metrics[("molbert_jobs_delivered_total", (("kind", "imagine"), ("ok", "true")))] == 1
    assert bot_metrics[("molbert_delivery_seconds_count", (("platform", "telegram"),))] == 1
    assert bot_metrics[("molbert_job_seconds_count", imagine)] == 1
    assert ("molbert_queue_depth", (("queue", "molbert-generate"),)) in bot_metrics
    assert bot_metrics[("molbert_chat_api_rate_limited_total", (("platform", "telegram"),))] == 1
    assert bot_metrics[("molbert_chat_api_errors_total", (("platform", "telegram"), ("reason", "429")))] == 1
    assert worker_metrics[("molbert_jobs_finished_total", imagine)] == 1
    assert worker_metrics[("molbert_queue_wait_seconds_count", imagine)] == 1
    assert worker_metrics[("molbert_model_seconds_count", imagine)] == 1
    assert worker_metrics[("molbert_worker_memory_bytes", (("source", "max_rss"),))] > 0

    telemetry.set_user_key(USER_KEY)
    try:
        user = telemetry.hash_user(ChatRef(platform="telegram", chat_id=GROUP_ID, user_id=USER_ID))
    finally:
        telemetry.set_user_key(None)
    for process in (bot, worker):
        assert str(USER_ID) not in process.log
    bot_lines = {record.get("event"): record for record in json_lines(bot.log) if record.get("job_id") == job_id}
    worker_lines = {record.get("event"): record for record in json_lines(worker.log) if record.get("job_id") == job_id}
    assert {"job_enqueued", "job_delivered"} <= bot_lines.keys()
    assert {"job_picked_up", "job_model_done", "job_published"} <= worker_lines.keys()
    for record in [*bot_lines.values(), *worker_lines.values()]:
        assert record["user"] == user and record["chat"] == str(GROUP_ID)
    delivered = bot_lines["job_delivered"]
    assert delivered["kind"] == "imagine" and delivered["ok"] is True
    assert all(delivered[name] >= 0 for name in DURATIONS), delivered
    stamps = [delivered["stages"][stage] for stage in STAGES]
    assert stamps == sorted(stamps), delivered["stages"]
    assert delivered["deliver_ms"] >= 1000, "the 429's one-second wait is part of the delivery"


async def _eventually(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.1)
