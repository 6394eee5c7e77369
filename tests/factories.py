"""Building the objects tests need, with the defaults tests usually want."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from core.protocol import ChatRef
from handlers.access import AccessPolicy
from handlers.chat_settings import MemoryChatSettings
from handlers.ports import Admission, ChatSettingsStore, FeedbackStore, JobSubmitter, TaughtClassStore
from handlers.routing import GeneratorRoutes
from handlers.safety import PromptBlocklist
from handlers.service import Molbert
from tests.memory import MemoryJobs, MemoryTaughtClasses

if TYPE_CHECKING:
    import redis

    from models import LoadedModels
    from workers.safety import ImageSafety
    from workers.worker import MolbertWorker


def make_molbert(
    jobs: JobSubmitter | None = None,
    *,
    settings: ChatSettingsStore | None = None,
    admission: Admission | None = None,
    blocklist: PromptBlocklist | None = None,
    access: AccessPolicy | None = None,
    routes: GeneratorRoutes | None = None,
    nsfw_threshold: float = 0.5,
    kind: type[Molbert] = Molbert,
    classes: TaughtClassStore | None = None,
    feedback_store: FeedbackStore | None = None,
) -> Molbert:
    """A :class:`Molbert` (or a subclass, ``kind``) for a test: jobs in memory, chat settings in memory, no limits,
    the default blocklist, everyone allowed, the default generator, taught classes in memory; any of them can be
    given instead."""
    return kind(
        jobs if jobs is not None else MemoryJobs(),
        settings=settings if settings is not None else MemoryChatSettings(),
        admission=admission,
        blocklist=blocklist if blocklist is not None else PromptBlocklist.load(),
        access=access if access is not None else AccessPolicy(),
        routes=routes if routes is not None else GeneratorRoutes(),
        nsfw_threshold=nsfw_threshold,
        classes=classes if classes is not None else MemoryTaughtClasses(),
        feedback_store=feedback_store,
    )


def chat(
    message_id: int | None = 1,
    *,
    chat_id: int = 42,
    user_id: int = 7,
    platform: str = "telegram",
    lang: str = "ru",
) -> ChatRef:
    """Where a test's request comes from: one user writing in one chat, message ``message_id``.

    A test file whose users or chats differ binds its own with ``functools.partial`` (``chat_id=100``, …), so that
    every file says only what differs and the job ids its assertions name stay what they were.
    """
    return ChatRef(platform=platform, chat_id=chat_id, user_id=user_id, message_id=message_id, lang=lang)


def work_until_empty(
    models: LoadedModels, connection: redis.Redis, safety: ImageSafety | None = None, *, keep_models: bool = False
) -> MolbertWorker:
    """Run the real worker class on ``models`` in this thread until its queues are empty (RQ's burst mode): a
    test's stand-in for ``python -m workers``. The worker's models are cleared after (the next test may bring other
    models) unless ``keep_models``: the ``run_worker`` fixture keeps them for the test to look at, and clears them
    at its end."""
    from workers import runtime
    from workers.worker import MolbertWorker

    worker = MolbertWorker(models, connection, safety=safety)
    try:
        worker.work(burst=True, logging_level="WARNING")
    finally:
        if not keep_models:
            runtime.set_models(None)
    return worker


@contextlib.asynccontextmanager
async def serving_telegram(
    bot: Any, dispatcher: Any, molbert: Molbert, outbox: Any, results: Any
) -> AsyncIterator[None]:
    """aiogram polling the fake Bot API with ``dispatcher``'s routers, and the result listener on ``results``,
    for the duration of the block; the bot's session is closed after."""
    from bot.results import ResultListener

    listener = ResultListener(results, "telegram", outbox, consumer="test", block_ms=50, classes=molbert.classes)
    polling = dispatcher.start_polling(bot, handle_signals=False, molbert=molbert, outbox=outbox)
    tasks = [asyncio.create_task(polling), asyncio.create_task(listener.run())]
    try:
        yield
    finally:
        listener.stop()
        await dispatcher.stop_polling()
        await asyncio.gather(*tasks)
        await bot.session.close()


@contextlib.asynccontextmanager
async def feedback_database(url: str, contexts: Any, **options: Any) -> AsyncIterator[Any]:
    """The bot's feedback store (``bot.feedback.DatabaseFeedback``) on the database at ``url``, its writer running
    for the duration of the block; ``contexts`` is the async Redis the worker leaves results' embeddings in."""
    from sqlalchemy.engine import make_url

    from bot.feedback import DatabaseFeedback
    from core.database import create_engine
    from core.feedback_store import FeedbackStore as Tables

    address = make_url(url)
    engine = create_engine(address)
    store = DatabaseFeedback(Tables(engine), contexts, address, **options)
    writer = asyncio.create_task(store.run())
    try:
        yield store
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await engine.dispose()
