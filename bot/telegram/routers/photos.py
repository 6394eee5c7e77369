"""Photos and image files → zero-shot classification; the caption may list the labels to choose from."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import Message

from bot.telegram.chat import chat_ref
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert

router = Router(name=__name__)


@router.message(F.photo)
async def photo(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Classify the largest size of a photo."""
    largest = message.photo[-1]
    await molbert.classify(
        chat_ref(message), _downloader(bot, largest.file_id), largest.file_size, message.caption, outbox
    )


@router.message(F.document.mime_type.startswith("image/"))
async def image_document(message: Message, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Classify an image sent as a file (uncompressed)."""
    document = message.document
    await molbert.classify(
        chat_ref(message), _downloader(bot, document.file_id), document.file_size, message.caption, outbox
    )


@router.message(F.document)
async def other_document(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Explain that only images can be recognised."""
    mime = message.document.mime_type or message.document.file_name or "?"
    await molbert.refuse(chat_ref(message), outbox, "document_not_image", mime=mime)


def _downloader(bot: Bot, file_id: str):
    async def download() -> bytes:
        buffer = await bot.download(file_id)
        return buffer.getvalue()

    return download
