"""Few-shot chat classes: ``/teach <name>`` (``/научи``) with photos, ``/classes`` (``/классы``) and
``/forget_class <name>`` (``/забудь_класс``).

The photos come as an album captioned ``/teach Мурка`` (collected with the other album parts by
``bot.telegram.routers.photos.album_part``), a photo or image file captioned so, or the command as a reply to a
photo. Teaching and forgetting are for the chat's admins (anyone in a private chat), as ``/labels`` is.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.telegram.chat import chat_ref, is_chat_admin, without_mention
from bot.telegram.outbox import TelegramOutbox
from bot.telegram.routers.photos import TEACH_COMMANDS, album_part, image_of, upload_of
from handlers.service import Molbert


async def teach(message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Teach the class named after the command from the photo it carries or replies to (or its whole album)."""
    if message.media_group_id:
        await album_part(message, bot, molbert, outbox)  # the album's owner teaches from every part
        return
    replied = message.reply_to_message
    image = image_of(message) or (image_of(replied) if replied else None)
    uploads = [] if image is None else [upload_of(bot, image)]
    name = without_mention(command.args, await bot.me())
    await molbert.teach(chat_ref(message), uploads, name, await is_chat_admin(bot, message), outbox)


async def classes(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """List the chat's taught classes."""
    await molbert.taught_classes(chat_ref(message), outbox)


async def forget_class(
    message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox
) -> None:
    """Forget one taught class (chat admins)."""
    name = without_mention(command.args, await bot.me())
    await molbert.forget_class(chat_ref(message), name, await is_chat_admin(bot, message), outbox)


def router() -> Router:
    """The router of ``/teach``, ``/classes`` and ``/forget_class``; before the photos' router, which would take a
    captioned photo for one to classify. A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(teach, Command(*TEACH_COMMANDS, ignore_case=True))
    feature.message.register(classes, Command("classes", "классы", ignore_case=True))
    feature.message.register(forget_class, Command("forget_class", "забудь_класс", ignore_case=True))
    return feature
