"""The Telegram frontend: aiogram long polling plus the listener that delivers results to Telegram chats."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeDefault, User

from bot.results import ResultListener
from bot.settings import ConfigError, TelegramSettings
from bot.telegram.chat import PLATFORM
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.routers import all_routers
from handlers.service import Molbert
from handlers.texts import LANGUAGES, t

log = logging.getLogger(__name__)

COMMANDS = ("imagine", "classify", "help", "start")


def create_bot(settings: TelegramSettings) -> Bot:
    """An aiogram Bot for the configured token, talking to ``TELEGRAM_API_URL`` when it is set."""
    session = None
    if settings.api_url is not None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(str(settings.api_url)))
    return Bot(token=settings.bot_token.get_secret_value(), session=session)


def create_dispatcher() -> Dispatcher:
    """A Dispatcher with every feature router attached."""
    dispatcher = Dispatcher(name="molbert")
    dispatcher.include_routers(*all_routers())
    return dispatcher


async def introduce(bot: Bot) -> User:
    """``getMe``, retried while Telegram is unreachable; a rejected token is a configuration error."""
    delay = 1.0
    while True:
        try:
            return await bot.get_me()
        except TelegramUnauthorizedError:
            await bot.session.close()
            raise ConfigError(
                "Configuration error: TELEGRAM_BOT_TOKEN: Telegram rejected this token (Unauthorized)"
            ) from None
        except TelegramNetworkError as exc:
            log.warning("cannot reach Telegram (%s); retrying in %.0f s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def register_commands(bot: Bot) -> None:
    """``setMyCommands``: Russian by default, and each other language we have texts for."""
    for lang in LANGUAGES:
        commands = [BotCommand(command=name, description=t(f"cmd_{name}", lang)) for name in COMMANDS]
        language_code = None if lang == "ru" else lang
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language_code)


async def run_telegram(settings: TelegramSettings, molbert: Molbert, results: aioredis.Redis, consumer: str) -> None:
    """Poll Telegram and deliver results until cancelled."""
    bot = create_bot(settings)
    outbox = TelegramOutbox(bot)
    dispatcher = create_dispatcher()
    listener = ResultListener(results, PLATFORM, outbox, consumer=consumer)
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        await bot.session.close()
        raise ConfigError(
            "Configuration error: TELEGRAM_BOT_TOKEN: Telegram rejected this token (Unauthorized)"
        ) from None
    log.info("Telegram frontend started as @%s", me.username)
    await register_commands(bot)
    listener_task = asyncio.create_task(listener.run(), name="telegram-results")
    try:
        await dispatcher.start_polling(bot, handle_signals=False, molbert=molbert, outbox=outbox)
    finally:
        listener.stop()
        await asyncio.gather(listener_task, return_exceptions=True)
        await bot.session.close()
