"""``/imagine <prompt>`` (also ``/imagine@bot`` in groups)."""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.telegram.chat import chat_ref, is_private, mentions, without_mention
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.routers.photos import image_of, upload_of
from core.protocol import ChatRef
from handlers import remix
from handlers.service import Molbert

COMMANDS = ("imagine", "draw", "нарисуй")
# "@bot /imagine кот": after the mention is taken out, the command still leads the text
_LEADING_COMMAND = re.compile(rf"^/(?:{'|'.join(COMMANDS)})(?:@\w+)?(?:\s+|$)", re.IGNORECASE)


async def imagine(message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Queue a picture for the text after the command (a mention of the bot in it is an address, not a word).

    A photo (or image file) the command is the caption of, or else the one it replies to, is where the picture
    starts (image-to-image); Telegram puts the replied message in the update even in a group with privacy mode on.
    Of the bot's own messages only a picture shown alone (a U image) is one to start from: a reply to a whole
    result (a grid) is about that request, a new one here.
    """
    me = await bot.me()
    replied = message.reply_to_message
    starts_from = replied is not None and await _a_photo_to_start_from(replied, me.id, chat_ref(message), molbert)
    image = image_of(message) or (image_of(replied) if replied is not None and starts_from else None)
    photo = upload_of(bot, image) if image else None
    await molbert.imagine(chat_ref(message), without_mention(command.args, me), outbox, photo=photo)


async def _a_photo_to_start_from(replied: Message, bot_id: int, chat: ChatRef, molbert: Molbert) -> bool:
    """Whether ``/imagine`` in reply to ``replied`` paints from its picture: anyone's photo, or one picture of
    the bot's alone (a U image: it remixes one picture); not a whole result of the bot's."""
    if replied.from_user is None or replied.from_user.id != bot_id:
        return True
    target = await molbert.remix_target(chat, replied.message_id, _actions(replied))
    return target is not None and remix.parse_target(target)[1] is not None


async def addressed_text(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """A reply to one of the bot's messages, or (in groups) a message mentioning the bot, is a prompt.

    A reply to a result (or to its 🖋 prompt) is a remix of that request when its requester sends it (in a private
    chat: every such reply). In a group, someone else's reply to a picture is a reaction ("ахах круто"), not a
    prompt, unless it mentions the bot.
    """
    me = await bot.me()
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == me.id
    mentioned = not is_private(message) and mentions(message.text, me)
    if not (to_bot or mentioned):
        raise SkipHandler  # plain text: the fallback router explains how to ask (in private chats)
    chat = chat_ref(message)
    text = _LEADING_COMMAND.sub("", without_mention(message.text, me) or "")
    job_id = await molbert.remix_target(chat, replied.message_id, _actions(replied)) if to_bot and replied else None
    if job_id is not None and (is_private(message) or await molbert.requested(chat, job_id)):
        await molbert.remix(chat, job_id, text, outbox)
        return
    if (
        not mentioned
        and not is_private(message)
        and (job_id is not None or not await _asked_for(replied, chat, molbert))
    ):
        return
    await molbert.imagine(chat, text, outbox)


async def _asked_for(replied: Message | None, chat: ChatRef, molbert: Molbert) -> bool:
    """Whether the sender asked for the bot's message ``replied`` (a "queued" message carries its job in its ✖;
    any other message counts as theirs)."""
    actions = _actions(replied) if replied else []
    return not actions or await molbert.asked_for(chat, actions[0])


def _actions(result: Message) -> list[str]:
    """The actions of the buttons under one of the bot's messages (a picture carries its job in them)."""
    keyboard = getattr(result.reply_markup, "inline_keyboard", None) or []
    return [button.callback_data for row in keyboard for button in row if button.callback_data]


def router() -> Router:
    """The router of ``/imagine`` and of text addressed to the bot.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(imagine, Command(*COMMANDS, ignore_case=True))
    feature.message.register(addressed_text, F.text, ~F.text.startswith("/"))
    return feature
