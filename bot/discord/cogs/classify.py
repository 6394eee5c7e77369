"""Zero-shot classification: ``/classify image:<вложение> labels:<варианты>`` and the "Распознать" message menu."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref
from bot.discord.responses import answer
from bot.discord.translator import text
from core.protocol import ChatRef, job_id_for
from handlers.errors import UserError
from handlers.images import TELEGRAM_DOWNLOAD_LIMIT
from handlers.ports import Upload

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

DOWNLOAD_LIMIT = TELEGRAM_DOWNLOAD_LIMIT  # the same cap as on Telegram: photos are shrunk to 1024 px anyway
MAX_IMAGES_PER_MESSAGE = 4
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})


class Classify(commands.Cog):
    """Recognition."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=text("discord_ctx_classify"), callback=self.classify_message)

    async def cog_load(self) -> None:
        """Context menus cannot live inside a cog class: register it with the tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the context menu back out of the tree."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="classify", description=text("discord_cmd_classify"))
    @app_commands.describe(image=text("discord_opt_image"), labels=text("discord_opt_labels"))
    async def classify(self, interaction: discord.Interaction, image: discord.Attachment, labels: str | None = None):
        """Classify an uploaded picture, among the user's labels when given."""

        async def work() -> None:
            await self.classify_attachment(chat_ref(interaction), image, labels)

        await answer(self.bot, interaction, work)

    async def classify_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Classify the pictures attached to any message (one job each, up to four)."""
        pictures = [a for a in message.attachments if is_image(a)][:MAX_IMAGES_PER_MESSAGE]

        async def work() -> None:
            if not pictures:
                await self.bot.molbert.refuse(chat_ref(interaction), self.bot.outbox, "discord_no_images")
                return
            request_id = job_id_for(chat_ref(interaction), "message")  # the pictures count as one request
            for part, attachment in enumerate(pictures):
                await self.classify_attachment(chat_ref(interaction, part=part), attachment, None, request_id)

        await answer(self.bot, interaction, work)

    async def classify_attachment(
        self, chat: ChatRef, attachment: discord.Attachment, labels: str | None, request_id: str | None = None
    ) -> None:
        """Check what Discord tells about the file, then let the handlers download, check and queue it
        (``request_id``: one of several pictures of one message, see ``Molbert.classify``)."""
        molbert, outbox = self.bot.molbert, self.bot.outbox
        if (refused := refusal(attachment)) is not None:
            await molbert.refuse(chat, outbox, refused[0], **refused[1])
            return
        await molbert.classify(chat, reader(attachment), attachment.size, labels, outbox, request_id)


def refusal(attachment: discord.Attachment) -> tuple[str, dict[str, object]] | None:
    """Why an attachment is refused before downloading it, from what Discord tells about it (the text key and its
    values), or ``None``: not an image, or over the download limit."""
    if attachment.content_type and not attachment.content_type.startswith("image/"):
        return "document_not_image", {"mime": attachment.content_type}
    if attachment.size > DOWNLOAD_LIMIT:
        size_mb, limit_mb = round(attachment.size / 2**20, 1), DOWNLOAD_LIMIT // 2**20
        return "discord_file_too_big", {"size_mb": size_mb, "limit_mb": limit_mb}
    return None


def reader(attachment: discord.Attachment):
    """``attachment.read``, with Discord refusing the file (gone from its CDN) told to the user plainly."""

    async def read() -> bytes:
        try:
            return await attachment.read()
        except discord.HTTPException as exc:
            raise UserError("download_failed") from exc

    return read


async def uploads_of(
    bot: MolbertBot, chat: ChatRef, attachments: Iterable[discord.Attachment | None]
) -> list[Upload] | None:
    """The attachments of a command (``None``: an image option left empty) as uploads for the use cases, or ``None``
    once the first one that is not an image, or too big, was refused: before anything is downloaded."""
    pictures = [attachment for attachment in attachments if attachment is not None]
    for attachment in pictures:
        if (refused := refusal(attachment)) is not None:
            await bot.molbert.refuse(chat, bot.outbox, refused[0], **refused[1])
            return None
    return [Upload(reader(attachment), attachment.size) for attachment in pictures]


def is_image(attachment: discord.Attachment) -> bool:
    """An attachment Discord says is an image (or, without a content type, whose name says so)."""
    if attachment.content_type:
        return attachment.content_type.startswith("image/")
    return PurePosixPath(attachment.filename).suffix.lower() in IMAGE_EXTENSIONS


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Classify(bot))
