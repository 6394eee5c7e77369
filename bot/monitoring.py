"""The frontend's metrics and health: what ``/metrics`` and ``/healthz`` on ``BOT_METRICS_PORT`` report.

Counters and histograms live in prometheus-client's default registry; the queue depths are read from Redis on
each scrape (:class:`QueueDepthCollector`), so they are right whichever frontend replica is scraped. The server
runs in a thread (``handlers.telemetry.MonitoringServer``), not on the event loop; :class:`BotHealth` therefore
watches the loop with a heartbeat task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from rq import Queue, Worker

from core.protocol import ResultEvent
from core.telemetry import MonitoringServer

log = logging.getLogger(__name__)

# seconds: a few ms on loopback, up to minutes for a picture on a busy GPU
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_STALE = 30.0  # the event loop has not run the heartbeat for this long: the frontends are stuck

JOBS_ENQUEUED = Counter("molbert_jobs_enqueued", "Jobs the frontends put on a queue", ["kind"])
JOBS_DELIVERED = Counter(
    "molbert_jobs_delivered", "Job results shown in their chats (ok=false: an error or refusal)", ["kind", "ok"]
)
DELIVERY_SECONDS = Histogram(
    "molbert_delivery_seconds",
    "From the worker publishing a result to the frontend having delivered it into the chat",
    ["platform"],
    buckets=LATENCY_BUCKETS,
)
JOB_SECONDS = Histogram(
    "molbert_job_seconds",
    "End to end: from the chat event received to the result delivered",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
API_ERRORS = Counter(
    "molbert_chat_api_errors", "Failed chat API calls (429s included), by platform and reason", ["platform", "reason"]
)
API_RATE_LIMITED = Counter(
    "molbert_chat_api_rate_limited", "Chat API calls answered 429 Too Many Requests", ["platform"]
)


def count_api_error(platform: str, reason: str) -> None:
    """Count one failed chat API call; ``reason`` ``"429"`` also counts as rate-limited."""
    API_ERRORS.labels(platform, reason).inc()
    if reason == "429":
        API_RATE_LIMITED.labels(platform).inc()


def observe_delivery(event: ResultEvent) -> None:
    """Count a delivered result and observe its delivery and end-to-end latencies (``event.times``)."""
    JOBS_DELIVERED.labels(event.kind, str(event.ok).lower()).inc()
    times = event.times
    if times.delivered is None:
        return
    if times.published is not None:
        DELIVERY_SECONDS.labels(event.chat.platform).observe(max(0.0, times.delivered - times.published))
    if times.received is not None:
        JOB_SECONDS.labels(event.kind).observe(max(0.0, times.delivered - times.received))


class QueueDepthCollector(Collector):
    """``molbert_queue_depth{queue}`` (jobs waiting) and ``molbert_workers``, read from Redis on each scrape."""

    def __init__(self, connection: redis.Redis, queues: Callable[[], Iterable[Queue]]) -> None:
        self.connection = connection
        self.queues = queues

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """The gauges; nothing (not an error) while Redis is unreachable."""
        depth = GaugeMetricFamily("molbert_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        try:
            for queue in self.queues():
                depth.add_metric([queue.name], queue.count)
            workers = Worker.count(connection=self.connection)
        except redis.RedisError as exc:
            log.warning("queue depths not collected: %s", exc)
            return
        yield depth
        yield GaugeMetricFamily("molbert_workers", "Workers registered in RQ", value=workers)


class BotHealth:
    """Healthy when Redis answers, every frontend is running, and the event loop is not stuck."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.frontends: dict[str, bool] = {}
        self.last_beat = time.monotonic()

    def track(self, name: str, runner: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Wrap a frontend's runner so the health check knows whether it is running."""

        async def run() -> None:
            self.frontends[name] = True
            try:
                await runner()
            finally:
                self.frontends[name] = False

        self.frontends[name] = False
        return run

    async def beat(self) -> None:
        """Prove the event loop runs, every ``HEARTBEAT_INTERVAL`` s, until cancelled."""
        while True:
            self.last_beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    def __call__(self) -> dict[str, bool]:
        """The checks ``/healthz`` reports."""
        return {
            "redis": _redis_answers(self.connection),
            "frontends": bool(self.frontends) and all(self.frontends.values()),
            "event_loop": time.monotonic() - self.last_beat < HEARTBEAT_STALE,
        }


def _redis_answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.RedisError:
        return False


@contextlib.asynccontextmanager
async def monitoring(
    port: int, connection: redis.Redis, queues: Callable[[], Iterable[Queue]]
) -> AsyncIterator[BotHealth]:
    """Serve ``/metrics`` and ``/healthz`` on ``port`` (0: off) while the frontends run."""
    health = BotHealth(connection)
    collector = QueueDepthCollector(connection, queues)
    REGISTRY.register(collector)
    server = MonitoringServer(port, health)
    server.start()
    heartbeat = asyncio.create_task(health.beat(), name="health-heartbeat")
    try:
        yield health
    finally:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        server.stop()
        REGISTRY.unregister(collector)
