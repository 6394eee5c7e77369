"""What nothing else handled, in private chats: unknown commands get the command list, plain text gets a hint,
anything else (a sticker, a voice message, a video) says what the bot understands."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message

from bot.telegram.chat import chat_ref
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert


async def unknown_command(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """A command we do not have."""
    await molbert.refuse(chat_ref(message), outbox, "unknown_command")


async def plain_text(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Plain text: explain how to ask for a picture."""
    await molbert.refuse(chat_ref(message), outbox, "text_hint")


async def anything_else(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """A sticker, a voice message, a video…: say what the bot understands rather than stay silent."""
    await molbert.refuse(chat_ref(message), outbox, "unsupported_message")


def router() -> Router:
    """The router of what nothing else handled (private chats only).

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.filter(F.chat.type == ChatType.PRIVATE)  # groups: the bot speaks only when addressed
    feature.message.register(unknown_command, F.text.startswith("/"))
    feature.message.register(plain_text, F.text)
    feature.message.register(anything_else)
    return feature
