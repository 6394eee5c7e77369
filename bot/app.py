"""Wiring the frontend process: settings, Redis (given or embedded), the local worker, and the frontends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from bot.chat_settings import RedisChatSettings
from bot.config import BotConfig
from bot.limits import RedisAdmission
from bot.local import EmbeddedRedis, LocalWorker
from bot.queue import RedisJobs
from bot.taught_classes import RedisTaughtClasses
from core.connection import connect, connect_async
from core.heap import settle_startup_heap
from core.protocol import CLASSIFY_QUEUE
from handlers.safety import PromptBlocklist
from handlers.service import Molbert

log = logging.getLogger(__name__)


@dataclass
class Backend:
    """What every frontend shares: the use cases (queueing through RQ) and an async Redis for results."""

    molbert: Molbert
    results: aioredis.Redis
    jobs: RedisJobs  # the queues, also read by the metrics (queue depths) and the health check


@contextlib.asynccontextmanager
async def backend(config: BotConfig, worker_log: Path | None = None) -> AsyncIterator[Backend]:
    """Connect to ``REDIS_URL``; with it unset, start an embedded Redis and a local worker for the duration.

    The local worker writes to ``worker_log`` when given (the console keeps the terminal for the chat).
    """
    bot_settings, safety = config.bot, config.safety
    blocklist = PromptBlocklist.load(safety.blocklist_file)
    embedded = local_worker = supervisor = None
    if config.redis.url is None:
        log.info("REDIS_URL is not set: one-machine mode (embedded Redis and a local worker)")
        embedded = EmbeddedRedis(bot_settings.data_dir / "redis")
        url = embedded.url
        local_worker = LocalWorker(url, log_path=worker_log, queues=[CLASSIFY_QUEUE, *bot_settings.routes().all_queues])
        supervisor = asyncio.create_task(local_worker.supervise(), name="local-worker")
    else:
        url = config.redis.url.get_secret_value()
    jobs_connection = connect(url)
    results_connection = connect_async(url)
    try:
        admission = RedisAdmission(jobs_connection, config.limits.policy())
        routes = bot_settings.routes()
        jobs = RedisJobs(jobs_connection, routes)
        molbert = Molbert(
            jobs,
            settings=RedisChatSettings(jobs_connection),
            admission=admission,
            blocklist=blocklist,
            access=config.access.policy(),
            routes=routes,
            nsfw_threshold=safety.nsfw_threshold,
            default_images=bot_settings.default_images,
            classes=RedisTaughtClasses(jobs_connection),
        )
        yield Backend(molbert=molbert, results=results_connection, jobs=jobs)
    finally:
        await results_connection.aclose()
        jobs_connection.close()
        if local_worker is not None and supervisor is not None:
            await local_worker.stop()
            await asyncio.gather(supervisor, return_exceptions=True)
        if embedded is not None:
            embedded.stop()


async def run_until_stopped(*runners: Callable[[], Awaitable[None]]) -> None:
    """Run the frontends until one ends or SIGINT/SIGTERM arrives, then cancel the rest."""
    log.info("start-up objects set aside from garbage collection: %d", settle_startup_heap())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(runner()) for runner in runners]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    if stopper in done:
        log.info("stopping…")
    for task in [*tasks, stopper]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if task in done and isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
