"""``/imagine <prompt>`` (also ``/imagine@bot`` in groups)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.telegram.chat import chat_ref
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert

router = Router(name=__name__)


@router.message(Command("imagine", "draw", "нарисуй", ignore_case=True))
async def imagine(message: Message, command: CommandObject, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Queue a picture for the text after the command."""
    await molbert.imagine(chat_ref(message), command.args, outbox)
