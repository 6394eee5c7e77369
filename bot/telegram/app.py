"""The Telegram frontend: aiogram long polling (or a webhook server) plus the listener that delivers results."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeDefault, User
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.config import TelegramSettings
from bot.results import ResultListener
from bot.telegram.api_metrics import TelegramApiMetrics
from bot.telegram.chat import PLATFORM, group_ref
from bot.telegram.migration import ChatMoved, FollowChatMigration
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.pacing import TelegramPacing
from bot.telegram.response_models import KeepResponseModels
from bot.telegram.retry import TelegramRetry
from bot.telegram.routers import all_routers
from core.config import ConfigError
from handlers.service import Molbert
from handlers.texts import LANGUAGES, t

log = logging.getLogger(__name__)

# Waiting for Telegram at start (introduce): the first pause, doubling up to the second.
INTRODUCE_DELAYS = (1.0, 30.0)
COMMANDS: tuple[str, ...] = (
    "imagine",
    "classify",
    "describe",
    "labels",
    "settings",
    "queue",
    "cancel",
    "help",
    "start",
    "forget",
)
COMMANDS += ("teach", "classes", "forget_class")  # few-shot chat classes (handlers/teach.py)


def create_bot(settings: TelegramSettings, on_chat_moved: ChatMoved | None = None) -> Bot:
    """An aiogram Bot for the configured token, talking to ``TELEGRAM_API_URL`` when it is set; ``on_chat_moved``
    hears of groups that became supergroups, whose calls are made again in the new chat."""
    session = None
    if settings.api_url is not None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(str(settings.api_url)))
    assert settings.bot_token is not None, "the Telegram frontend starts only with TELEGRAM_BOT_TOKEN set"
    bot = Bot(token=settings.bot_token.get_secret_value(), session=session)
    if on_chat_moved is not None:
        bot.session.middleware(FollowChatMigration(on_chat_moved))  # outermost: the new chat's call is paced too
    bot.session.middleware(KeepResponseModels())  # answer classes built once (bot/telegram/response_models.py)
    bot.session.middleware(TelegramRetry())  # 429, 5xx and network errors (bot/telegram/retry.py)
    bot.session.middleware(TelegramApiMetrics())  # inside the retries: counts every failed attempt
    bot.session.middleware(TelegramPacing())  # Telegram's per-chat, per-group and overall limits; paces each retry
    return bot


def create_dispatcher() -> Dispatcher:
    """A Dispatcher with every feature router attached."""
    # no FSM: no handler keeps conversation state, and its MemoryStorage would keep a record per chat and user forever
    dispatcher = Dispatcher(name="molbert", disable_fsm=True)
    dispatcher.include_routers(*all_routers())
    return dispatcher


async def introduce(bot: Bot) -> User:
    """``getMe``, waited for while Telegram is unreachable or failing (network errors, 5xx): a bot started before
    its network is up, or during a Telegram outage, comes up with it instead of exiting. Each ``getMe`` is already
    retried a few times by :class:`TelegramRetry`; between those rounds this waits 1 s, doubling up to 30 s.
    A rejected token is a configuration error at once: waiting cannot fix it."""
    delay = INTRODUCE_DELAYS[0]
    while True:
        try:
            return await bot.get_me()
        except TelegramUnauthorizedError:
            raise ConfigError("TELEGRAM_BOT_TOKEN", "Telegram rejected this token (Unauthorized)") from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("cannot reach Telegram (%s); trying again in %.0f s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, INTRODUCE_DELAYS[1])


async def register_commands(bot: Bot) -> None:
    """``setMyCommands``: Russian by default, and each other language we have texts for."""
    for lang in LANGUAGES:
        commands = [BotCommand(command=name, description=t(f"cmd_{name}", lang)) for name in COMMANDS]
        language_code = None if lang == "ru" else lang
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language_code)


def webhook_path(settings: TelegramSettings) -> str:
    """The path the webhook server listens on: ``TELEGRAM_WEBHOOK_PATH``, else the public URL's path."""
    return settings.webhook_path or (settings.webhook_url.path if settings.webhook_url else None) or "/"


async def serve_webhook(settings: TelegramSettings, bot: Bot, dispatcher: Dispatcher, **data) -> None:
    """Serve Telegram's update POSTs until cancelled (aiogram's aiohttp integration), checking the secret token.

    ``setWebhook`` is called once the server listens; ``deleteWebhook`` never is: other replicas behind the same
    URL keep receiving updates while this one restarts, and Telegram queues them while none answers.
    """
    assert settings.webhook_secret is not None, "run_telegram refuses a webhook URL without its secret"
    secret = settings.webhook_secret.get_secret_value()
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=secret, **data).register(app, path=webhook_path(settings))
    setup_application(app, dispatcher, bot=bot, **data)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        await bot.set_webhook(
            str(settings.webhook_url), secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types()
        )
        log.info(
            "Telegram webhook mode: listening on %s:%d%s",
            settings.webhook_host,
            settings.webhook_port,
            webhook_path(settings),
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def run_telegram(settings: TelegramSettings, molbert: Molbert, results: aioredis.Redis, consumer: str) -> None:
    """Poll Telegram (or serve its webhook, with ``TELEGRAM_WEBHOOK_URL``) and deliver results until cancelled.

    The settings have been checked: a webhook URL comes with its secret (:class:`TelegramSettings`)."""
    bot = create_bot(settings, on_chat_moved=lambda old, new: molbert.chat_moved(group_ref(old), new))
    outbox = TelegramOutbox(bot)
    dispatcher = create_dispatcher()
    listener = ResultListener(results, PLATFORM, outbox, consumer=consumer, classes=molbert.classes)
    try:
        me = await introduce(bot)
    except BaseException:  # a rejected token, or stopped while still waiting for Telegram
        await bot.session.close()
        raise
    log.info("Telegram frontend started as @%s", me.username)
    await register_commands(bot)
    listener_task = asyncio.create_task(listener.run(), name="telegram-results")
    try:
        if settings.webhook_url is None:
            # getUpdates fails while a webhook is set (e.g. left by an earlier webhook-mode run); updates wait
            await bot.delete_webhook(drop_pending_updates=False)
            await dispatcher.start_polling(bot, handle_signals=False, molbert=molbert, outbox=outbox)
        else:
            await serve_webhook(settings, bot, dispatcher, molbert=molbert, outbox=outbox)
    finally:
        listener.stop()
        await asyncio.gather(listener_task, return_exceptions=True)
        await bot.session.close()
