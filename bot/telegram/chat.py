"""Telegram message → the platform-neutral :class:`ChatRef`, and what Telegram says about a chat's admins."""

from __future__ import annotations

import re

from aiogram import Bot
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Chat, Message, User

from core.protocol import ChatRef
from handlers.texts import pick_language

PLATFORM = "telegram"


def chat_ref(message: Message) -> ChatRef:
    """Where to answer ``message``: its chat, as a reply to it, in its forum topic, in the sender's language.

    A message sent in the chat's own name (an anonymous group admin) has the chat as its user: such messages come
    from one shared bot account, which is nobody in particular.
    """
    as_the_chat = sent_as_the_chat(message)
    user = None if as_the_chat else message.from_user
    return ChatRef(
        platform=PLATFORM,
        chat_id=message.chat.id,
        user_id=user.id if user else message.chat.id,
        as_the_chat=as_the_chat,
        message_id=message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        lang=pick_language(user.language_code if user else None),
    )


def press_ref(callback: CallbackQuery) -> ChatRef:
    """Where to answer a button press: the chat of the message the button is under, as a reply to it."""
    message = callback.message
    if message is None:  # an inline message's press: the routers take only presses that carry their message
        raise ValueError(f"press {callback.id} carries no message")
    return ChatRef(
        platform=PLATFORM,
        chat_id=message.chat.id,
        user_id=callback.from_user.id,
        message_id=message.message_id,
        thread_id=getattr(message, "message_thread_id", None) if getattr(message, "is_topic_message", None) else None,
        lang=pick_language(callback.from_user.language_code),
    )


def group_ref(chat_id: int) -> ChatRef:
    """A whole chat, with no message or user of its own (the chat stands for itself): what moves when a group
    becomes a supergroup."""
    return ChatRef(platform=PLATFORM, chat_id=chat_id, user_id=chat_id, as_the_chat=True)


def sent_as_the_chat(message: Message) -> bool:
    """Sent on behalf of the group itself: only its admins can do that (Telegram's anonymous admins)."""
    return message.sender_chat is not None and message.sender_chat.id == message.chat.id


def is_private(message: Message) -> bool:
    """A one-to-one chat with the bot, where everything is addressed to it."""
    return message.chat.type == ChatType.PRIVATE


def addressed(message: Message, me: User) -> bool:
    """Whether ``message`` is meant for the bot: any message in private; in groups a message that mentions
    ``@bot`` (in its text or caption) or replies to one of the bot's messages."""
    if is_private(message):
        return True
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == me.id:
        return True
    return mentions(message.text or message.caption, me)


def mentions(text: str | None, me: User) -> bool:
    """``text`` contains ``@<bot username>`` as a word."""
    return bool(text and me.username and re.search(rf"@{re.escape(me.username)}\b", text, re.IGNORECASE))


def without_mention(text: str | None, me: User) -> str | None:
    """``text`` with ``@<bot username>`` taken out (it is an address, not part of a prompt or a label)."""
    if not text or not me.username:
        return text
    stripped = re.sub(rf"@{re.escape(me.username)}\b", " ", text, flags=re.IGNORECASE).strip()
    return stripped or None


async def is_chat_admin(bot: Bot, message: Message) -> bool:
    """The sender administers this chat (in a private chat, or writing as the group itself: always), asked of
    Telegram with getChatMember."""
    return sent_as_the_chat(message) or await is_admin_of(bot, message.chat, message.from_user)


async def is_admin_of(bot: Bot, chat: Chat, user: User | None) -> bool:
    """``user`` administers ``chat`` (in a private chat: always), asked of Telegram with getChatMember."""
    if chat.type == ChatType.PRIVATE:
        return True
    if user is None:
        return False
    try:
        member = await bot.get_chat_member(chat.id, user.id)
    except TelegramAPIError:
        return False  # cannot tell: treat as a member (they may still look at the labels)
    return member.status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR)
