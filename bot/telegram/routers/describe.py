"""``/describe`` (``/опиши``, #21): as a reply to a photo, or as a photo's caption, the photo described in Russian
words with ready ``/imagine`` lines (``Molbert.describe``)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.telegram.chat import chat_ref
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.routers.photos import image_of, upload_of
from handlers.service import Molbert

COMMANDS = ("describe", "опиши")


async def describe(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Describe the photo (or image file) this command is the caption of, else the one it replies to (the bot's
    own pictures too: their words are worth knowing); without one the user is told how to ask."""
    replied = message.reply_to_message
    image = image_of(message) or (image_of(replied) if replied is not None else None)
    await molbert.describe(chat_ref(message), upload_of(bot, image) if image else None, outbox)


def router() -> Router:
    """The router of ``/describe``; before the photos' router, which would classify a photo captioned with it.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(describe, Command(*COMMANDS, ignore_case=True))
    return feature
