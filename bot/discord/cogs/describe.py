"""``/describe image:<вложение>`` and the "Описать" message menu (#21): a picture described in Russian words with
ready ``/imagine`` lines, each with a 🎨 button that paints it (``Molbert.describe``; the buttons are the
``bot.discord.cogs.buttons`` ones every result has)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref
from bot.discord.cogs.classify import is_image, reader, refusal
from bot.discord.responses import answer
from bot.discord.translator import text
from core.protocol import ChatRef
from handlers.ports import Upload

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot


class Describe(commands.Cog):
    """Words for a picture."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=text("discord_ctx_describe"), callback=self.describe_message)

    async def cog_load(self) -> None:
        """Context menus cannot live inside a cog class: register it with the tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the context menu back out of the tree."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="describe", description=text("discord_cmd_describe"))
    @app_commands.describe(image=text("discord_opt_describe_image"))
    async def describe(self, interaction: discord.Interaction, image: discord.Attachment) -> None:
        """Describe an uploaded picture."""

        async def work() -> None:
            await self.describe_attachment(chat_ref(interaction), image)

        await answer(self.bot, interaction, work)

    async def describe_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Describe the first picture attached to any message."""
        pictures = [attachment for attachment in message.attachments if is_image(attachment)]

        async def work() -> None:
            if not pictures:
                await self.bot.molbert.refuse(chat_ref(interaction), self.bot.outbox, "discord_no_images")
                return
            await self.describe_attachment(chat_ref(interaction), pictures[0])

        await answer(self.bot, interaction, work)

    async def describe_attachment(self, chat: ChatRef, attachment: discord.Attachment) -> None:
        """Refuse a non-image or too big a file before downloading it; let the handlers do the rest."""
        molbert, outbox = self.bot.molbert, self.bot.outbox
        if (refused := refusal(attachment)) is not None:
            await molbert.refuse(chat, outbox, refused[0], **refused[1])
            return
        await molbert.describe(chat, Upload(reader(attachment), attachment.size), outbox)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Describe(bot))
