"""Photos and image files → zero-shot classification; the caption may list the labels to choose from.

``/classify [labels]`` sent as a reply to a photo (or as a photo's caption) classifies that photo.
"""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import Document, Message, PhotoSize

from bot.telegram.albums import AlbumCollector
from bot.telegram.chat import addressed, chat_ref, is_chat_admin, without_mention
from bot.telegram.outbox import TelegramOutbox
from handlers.errors import UserError
from handlers.ports import Upload
from handlers.service import Molbert

albums: AlbumCollector[Message] = AlbumCollector()
TEACH_COMMANDS = ("teach", "научи")  # an album captioned with one teaches a class (bot.telegram.routers.teach)
_TEACH_CAPTION = re.compile(rf"^/(?:{'|'.join(TEACH_COMMANDS)})(?:@\w+)?(?:\s+(?P<name>.*))?$", re.I | re.S)


async def classify_command(
    message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox
) -> None:
    """Classify the photo this command replies to (or carries), among the labels after the command."""
    replied = message.reply_to_message
    image = image_of(replied) if replied else None
    image = image or image_of(message)
    if image is None:
        await molbert.refuse(chat_ref(message), outbox, "classify_reply_to_photo")
        return
    labels = without_mention(command.args, await bot.me())
    await molbert.classify(chat_ref(message), _downloader(bot, image.file_id), image.file_size, labels, outbox)


async def photo(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Classify the largest size of a photo; a photo in an album waits for the rest of it."""
    await _classify_one(message, bot, molbert, outbox)


async def image_document(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Classify an image sent as a file (uncompressed)."""
    await _classify_one(message, bot, molbert, outbox)


async def _classify_one(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """The image a message carries, among its caption's labels; in groups only when addressed to the bot."""
    if message.media_group_id:
        await album_part(message, bot, molbert, outbox)
        return
    me = await bot.me()
    if addressed(message, me):
        caption = without_mention(message.caption, me)
    elif await auto_classified(message, molbert):
        caption = None  # a caption not addressed to the bot is chat, not labels
    else:
        return
    image = image_of(message)
    assert image is not None  # the router's filters: a photo or an image file
    await molbert.classify(chat_ref(message), _downloader(bot, image.file_id), image.file_size, caption, outbox)


async def other_document(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Explain that only images can be recognised (in groups, only to someone who addressed the bot)."""
    if not addressed(message, await bot.me()):
        return
    assert message.document is not None  # F.document
    mime = message.document.mime_type or message.document.file_name or "?"
    await molbert.refuse(chat_ref(message), outbox, "document_not_image", mime=mime)


async def album_part(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """One image of an album: the first part's handler answers the whole album once it is complete
    (ranked by its caption, or each image classified)."""
    parts = await albums.add((message.chat.id, message.media_group_id), message.message_id, message)
    if not parts:
        return
    if await _teach_album(parts, bot, molbert, outbox):
        return
    me = await bot.me()
    if any(addressed(part, me) for part in parts):
        caption = without_mention(next((part.caption for part in parts if part.caption), None), me)
    elif await auto_classified(parts[0], molbert):
        caption = None  # each photo classified on its own
    else:
        return  # an album in a group that is not for the bot
    uploads = []
    for part in parts:
        image = image_of(part)
        assert image is not None  # the album filter: a photo or an image file
        uploads.append(Upload(_downloader(bot, image.file_id), image.file_size, part.message_id))
    await molbert.album(chat_ref(parts[0]), uploads, caption, outbox)


async def _teach_album(parts: list[Message], bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> bool:
    """An album captioned ``/teach <name>`` teaches that class from all its photos; whether it was one."""
    captioned = next((part for part in parts if part.caption), None)
    asked = _TEACH_CAPTION.match(captioned.caption.strip()) if captioned and captioned.caption else None
    if captioned is None or asked is None:
        return False
    uploads = []
    for part in parts:
        image = image_of(part)
        assert image is not None  # the album filter: a photo or an image file
        uploads.append(Upload(_downloader(bot, image.file_id), image.file_size, part.message_id))
    admin = await is_chat_admin(bot, captioned)
    await molbert.teach(chat_ref(captioned), uploads, asked["name"], admin, outbox)
    return True


async def auto_classified(message: Message, molbert: Molbert) -> bool:
    """Whether this group's admins chose (``/settings``) to have every photo classified, addressed or not."""
    return (await molbert.settings_of(chat_ref(message))).auto_classify


def image_of(message: Message) -> PhotoSize | Document | None:
    """The image a message carries: its largest photo size, or an image sent as a file."""
    if message.photo:
        return message.photo[-1]
    document = message.document
    if document and (document.mime_type or "").startswith("image/"):
        return document
    return None


def upload_of(bot: Bot, image: PhotoSize | Document) -> Upload:
    """The image as a use case takes it: downloaded only when the request was accepted."""
    return Upload(_downloader(bot, image.file_id), image.file_size)


def _downloader(bot: Bot, file_id: str):
    """Download a file of the update; Telegram refusing it (gone, too big for a bot) is told to the user plainly."""

    async def download() -> bytes:
        try:
            buffer = await bot.download(file_id)
        except TelegramBadRequest as exc:
            raise UserError("download_failed") from exc
        assert buffer is not None  # no destination given: aiogram returns the BytesIO it filled, rewound
        return buffer.read()

    return download


def router() -> Router:
    """The router of photos, image files, albums and ``/classify``.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(classify_command, Command("classify", "распознай", ignore_case=True))
    feature.message.register(photo, F.photo)
    feature.message.register(image_document, F.document.mime_type.startswith("image/"))
    feature.message.register(other_document, F.document)
    return feature
