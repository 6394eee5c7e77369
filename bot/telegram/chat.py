"""Telegram message → the platform-neutral :class:`ChatRef`."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message

from handlers.protocol import ChatRef
from handlers.texts import pick_language

PLATFORM = "telegram"


def chat_ref(message: Message) -> ChatRef:
    """Where to answer ``message``: its chat, as a reply to it, in its forum topic, in the sender's language."""
    user = message.from_user
    return ChatRef(
        platform=PLATFORM,
        chat_id=message.chat.id,
        user_id=user.id if user else message.chat.id,
        message_id=message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        lang=pick_language(user.language_code if user else None),
    )


def press_ref(callback: CallbackQuery) -> ChatRef:
    """Where to answer a button press: the chat of the message the button is under, as a reply to it."""
    message = callback.message
    return ChatRef(
        platform=PLATFORM,
        chat_id=message.chat.id,
        user_id=callback.from_user.id,
        message_id=message.message_id,
        thread_id=getattr(message, "message_thread_id", None) if getattr(message, "is_topic_message", None) else None,
        lang=pick_language(callback.from_user.language_code),
    )
