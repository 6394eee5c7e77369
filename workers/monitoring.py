"""The worker's metrics, log lines of a job's stages, and health: ``/metrics`` and ``/healthz`` on
``WORKER_METRICS_PORT``, served from a thread (the worker's main thread runs the jobs)."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable, Iterable

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from core.protocol import ChatRef, ResultEvent, StageTimes
from core.telemetry import MonitoringServer, log_job
from workers import runtime

log = logging.getLogger(__name__)

WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
MODEL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

JOBS_FINISHED = Counter("molbert_jobs_finished", "Jobs a worker answered with a result", ["kind"])
JOBS_FAILED = Counter(
    "molbert_jobs_failed",
    "Jobs a worker answered with an error: reason is the refusal (a texts key), or 'error' (no retries left)",
    ["kind", "reason"],
)
QUEUE_WAIT = Histogram(
    "molbert_queue_wait_seconds", "From enqueued to picked up by a worker", ["kind"], buckets=WAIT_BUCKETS
)
MODEL_SECONDS = Histogram(
    "molbert_model_seconds", "Model time of a job (per photo in a batch)", ["kind"], buckets=MODEL_BUCKETS
)


def picked_up(job_id: str, kind: str, chat: ChatRef, times: StageTimes, at: float | None = None) -> StageTimes:
    """Stamp the job as picked up (``at``, default now), observe its queue wait and log ``job_picked_up``."""
    picked = at or time.time()
    times = times.model_copy(update={"picked_up": picked})
    if times.enqueued is not None:
        QUEUE_WAIT.labels(kind).observe(max(0.0, picked - times.enqueued))
    log_job(log, "job_picked_up", job_id, chat, kind, times)
    return times


def model_done(job_id: str, kind: str, chat: ChatRef, times: StageTimes, seconds: float | None = None) -> StageTimes:
    """Stamp the model as done, observe the model time (``seconds`` per job, else since picked up), log it."""
    done = time.time()
    times = times.model_copy(update={"model_done": done})
    if seconds is None and times.picked_up is not None:
        seconds = done - times.picked_up
    if seconds is not None:
        MODEL_SECONDS.labels(kind).observe(max(0.0, seconds))
    log_job(log, "job_model_done", job_id, chat, kind, times)
    return times


def published(event: ResultEvent) -> None:
    """Count a job's result and log ``job_published`` (or ``job_failed``); progress events are not results."""
    if event.kind == "progress":
        return
    if event.ok:
        JOBS_FINISHED.labels(event.kind).inc()
        log_job(log, "job_published", event.job_id, event.chat, event.kind, event.times)
        return
    reason = event.error_key or "error"
    JOBS_FAILED.labels(event.kind, reason).inc()
    log_job(log, "job_failed", event.job_id, event.chat, event.kind, event.times, logging.WARNING, reason=reason)


class MemoryCollector(Collector):
    """``molbert_worker_memory_bytes{source}``: the accelerator's peak allocation when CUDA is in use
    (``torch.cuda.max_memory_allocated``, ``source="cuda_max_allocated"``), else the process's peak resident
    memory (``source="max_rss"``)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """The gauge, read at scrape time."""
        gauge = GaugeMetricFamily(
            "molbert_worker_memory_bytes", "Peak memory of the worker's models", labels=["source"]
        )
        torch = sys.modules.get("torch")  # loaded with the models; never imported just for a scrape
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            gauge.add_metric(["cuda_max_allocated"], torch.cuda.max_memory_allocated())
        else:
            gauge.add_metric(["max_rss"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux: KiB
        yield gauge


class WorkerHealth:
    """Healthy when the models are loaded, Redis answers, and no job has outrun its timeout (a stuck worker)."""

    def __init__(self, connection: redis.Redis, stuck: Callable[[], bool] = lambda: False) -> None:
        self.connection = connection
        self.stuck = stuck

    def __call__(self) -> dict[str, bool]:
        """The checks ``/healthz`` reports."""
        try:
            redis_ok = bool(self.connection.ping())
        except redis.RedisError:
            redis_ok = False
        return {"models": runtime.loaded(), "redis": redis_ok, "not_stuck": not self.stuck()}


def start_monitoring(port: int, health: WorkerHealth) -> MonitoringServer:
    """Serve ``/metrics`` (with the memory gauge) and ``/healthz`` on ``port`` (0: off) from a thread."""
    REGISTRY.register(MemoryCollector())
    server = MonitoringServer(port, health)
    server.start()
    return server
