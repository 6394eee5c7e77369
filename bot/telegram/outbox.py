"""Sending into Telegram chats with aiogram: the Telegram implementation of ``handlers.ports.Outbox``."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from core.protocol import ChatRef
from handlers.ports import Keyboard, MessageId

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096


class TelegramOutbox:
    """Replies to the user's message (or just posts, if it was deleted) in the right forum topic."""

    photos_lossless = False  # Telegram recompresses photos to JPEG

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(
        self, chat: ChatRef, text: str, buttons: Keyboard | None = None, *, quiet: bool = False
    ) -> MessageId:
        """Send ``text`` as a reply with an optional inline keyboard (``quiet``: silently); return its id."""
        sent = await self.bot.send_message(
            chat_id=chat.chat_id,
            text=text[:TEXT_LIMIT],
            message_thread_id=_thread(chat),
            reply_parameters=_reply_to(chat),
            reply_markup=inline_keyboard(buttons),
            disable_notification=quiet or None,
        )
        return sent.message_id

    async def edit_text(
        self, chat: ChatRef, message_id: MessageId, text: str, buttons: Keyboard | None = None, *, resend: bool = True
    ) -> bool:
        """Replace the text (and the keyboard: none without ``buttons``) of a bot message and return ``True``; if it
        is gone, return ``False``, after sending the text as a new reply when ``resend``."""
        try:
            await self.bot.edit_message_text(
                text=text[:TEXT_LIMIT],
                chat_id=chat.chat_id,
                message_id=int(message_id),
                reply_markup=inline_keyboard(buttons),
            )
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return True
            log.info("could not edit message %s in chat %s (%s)", message_id, chat.chat_id, exc)
            if resend:
                await self.send_text(chat, text, buttons)
            return False
        return True

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str, buttons: Keyboard | None = None) -> MessageId:
        """Send an image as a reply with ``caption`` and an inline keyboard; return the new message id."""
        sent = await self.bot.send_photo(
            chat_id=chat.chat_id,
            photo=BufferedInputFile(photo, filename="molbert.png"),
            caption=caption[:CAPTION_LIMIT],
            message_thread_id=_thread(chat),
            reply_parameters=_reply_to(chat),
            reply_markup=inline_keyboard(buttons),
        )
        return sent.message_id

    async def send_document(self, chat: ChatRef, data: bytes, filename: str, caption: str) -> MessageId:
        """Send a file (uncompressed, unlike a photo) as a reply; return the new message id."""
        sent = await self.bot.send_document(
            chat_id=chat.chat_id,
            document=BufferedInputFile(data, filename=filename),
            caption=caption[:CAPTION_LIMIT],
            message_thread_id=_thread(chat),
            reply_parameters=_reply_to(chat),
        )
        return sent.message_id

    async def delete_message(self, chat: ChatRef, message_id: MessageId) -> None:
        """Delete a bot message; one that is already gone is fine."""
        try:
            await self.bot.delete_message(chat_id=chat.chat_id, message_id=int(message_id))
        except TelegramBadRequest as exc:
            log.info("could not delete message %s in chat %s: %s", message_id, chat.chat_id, exc)


def inline_keyboard(buttons: Keyboard | None) -> InlineKeyboardMarkup | None:
    """Neutral buttons → Telegram inline keyboard (the action becomes ``callback_data``)."""
    if not buttons:
        return None
    rows = [[InlineKeyboardButton(text=b.text, callback_data=b.action) for b in row] for row in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _thread(chat: ChatRef) -> int | None:
    """The forum topic to post in (``ChatRef`` ids are ``int | str`` for every platform; Telegram's are numbers)."""
    return None if chat.thread_id is None else int(chat.thread_id)


def _reply_to(chat: ChatRef) -> ReplyParameters | None:
    if chat.message_id is None:
        return None
    return ReplyParameters(message_id=int(chat.message_id), allow_sending_without_reply=True)
