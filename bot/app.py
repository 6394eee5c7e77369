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
from bot.feedback import DatabaseFeedback
from bot.limits import RedisAdmission
from bot.local import EmbeddedRedis, LocalWorker
from bot.queue import RedisJobs
from bot.taught_classes import DatabaseTaughtClasses
from core.connection import connect, connect_async
from core.database import create_engine, database_url
from core.feedback_store import FeedbackStore as CoreFeedbackStore
from core.heap import settle_startup_heap
from core.protocol import CLASSIFY_QUEUE
from core.taught_store import TaughtClassQueries
from handlers import feedback
from handlers.errors import ClassesUnavailable
from handlers.feedback import NullFeedback
from handlers.ports import FeedbackStore
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
    stack = contextlib.AsyncExitStack()
    try:
        admission = RedisAdmission(jobs_connection, config.limits.policy())
        routes = bot_settings.routes()
        jobs = RedisJobs(jobs_connection, routes)
        store = await stack.enter_async_context(feedback_store(config, results_connection))
        classes = await stack.enter_async_context(taught_class_store(config, results_connection))
        molbert = Molbert(
            jobs,
            settings=RedisChatSettings(jobs_connection),
            admission=admission,
            blocklist=blocklist,
            access=config.access.policy(),
            routes=routes,
            nsfw_threshold=safety.nsfw_threshold,
            default_images=bot_settings.default_images,
            classes=classes,
            feedback_store=store,
        )
        yield Backend(molbert=molbert, results=results_connection, jobs=jobs)
    finally:
        await stack.aclose()
        await results_connection.aclose()
        jobs_connection.close()
        if local_worker is not None and supervisor is not None:
            await local_worker.stop()
            await asyncio.gather(supervisor, return_exceptions=True)
        if embedded is not None:
            embedded.stop()


@contextlib.asynccontextmanager
async def feedback_store(config: BotConfig, contexts: aioredis.Redis) -> AsyncIterator[FeedbackStore]:
    """The feedback store (issue #22): the database of ``DATABASE_URL`` (a SQLite file in ``BOT_DATA_DIR`` when
    unset) with its writer and retention tasks, or nothing kept with ``FEEDBACK_ENABLED=false``."""
    feedback.show_buttons(config.feedback.enabled)
    if not config.feedback.enabled:
        yield NullFeedback()
        return
    configured = config.database.url.get_secret_value() if config.database.url else None
    url = database_url(configured, config.bot.data_dir)
    engine = create_engine(url)
    store = DatabaseFeedback(
        CoreFeedbackStore(engine),
        contexts,
        url,
        buffer=config.feedback.buffer,
        retention_days=config.feedback.retention_days,
    )
    tasks = [asyncio.create_task(store.run(), name="feedback-writer"), asyncio.create_task(store.sweep())]
    log.info("feedback is kept in a %s database", url.get_backend_name())
    try:
        yield store
    finally:
        if not await store.flush(timeout=5.0):
            log.warning("feedback: %d records not written at shutdown (database away)", len(store.pending))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()


@contextlib.asynccontextmanager
async def taught_class_store(config: BotConfig, legacy: aioredis.Redis) -> AsyncIterator[DatabaseTaughtClasses]:
    """The chats' taught classes (``/teach``) in the database of ``DATABASE_URL`` (the feedback's; a SQLite file in
    ``BOT_DATA_DIR`` when unset), kept whether feedback is collected or not. At start the schema is brought up to
    date and classes an older Molbert kept in Redis are moved in (in a task of its own: a slow database does not
    hold the bot up); a database away then is tried again at the first use, and meanwhile ``/teach`` and
    ``/classes`` say so."""
    configured = config.database.url.get_secret_value() if config.database.url else None
    url = database_url(configured, config.bot.data_dir)
    engine = create_engine(url)
    store = DatabaseTaughtClasses(TaughtClassQueries(engine), url, legacy)
    starting = asyncio.create_task(_start_taught_classes(store), name="taught-classes-start")  # never holds up start
    try:
        yield store
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await engine.dispose()


async def _start_taught_classes(store: DatabaseTaughtClasses) -> None:
    try:
        await store.start()
    except ClassesUnavailable as away:
        log.warning("taught classes: the database is unavailable at start (%s); trying again at first use", away.reason)


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
