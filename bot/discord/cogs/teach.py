"""Few-shot chat classes on Discord: ``/teach name:<название> image1:… image10:…``, ``/classes`` and
``/forget_class name:<название>``.

The same use cases as Telegram's ``/teach`` album (``Molbert.teach``); teaching and forgetting are for those who
may manage the server (in a DM with the bot, the user), as ``/labels`` is. A channel's threads share its classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref, is_admin
from bot.discord.cogs.classify import uploads_of
from bot.discord.responses import answer
from bot.discord.translator import text

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

IMAGE_OPTION = text("discord_opt_teach_image")


class Teach(commands.Cog):
    """Classes a channel teaches the bot."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    @app_commands.command(name="teach", description=text("discord_cmd_teach"))
    @app_commands.describe(
        name=text("discord_opt_class_name"), **{f"image{number}": IMAGE_OPTION for number in range(1, 11)}
    )
    async def teach(  # Discord takes attachments as options: one parameter each
        self,
        interaction: discord.Interaction,
        name: str,
        image1: discord.Attachment,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        image6: discord.Attachment | None = None,
        image7: discord.Attachment | None = None,
        image8: discord.Attachment | None = None,
        image9: discord.Attachment | None = None,
        image10: discord.Attachment | None = None,
    ) -> None:
        """Teach the class ``name`` from the attached pictures."""
        given = (image1, image2, image3, image4, image5, image6, image7, image8, image9, image10)

        async def work() -> None:
            chat = chat_ref(interaction)
            uploads = await uploads_of(self.bot, chat, given)  # a non-image or too big a file refused before download
            if uploads is not None:
                await self.bot.molbert.teach(chat, uploads, name, is_admin(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work)

    @app_commands.command(name="classes", description=text("discord_cmd_classes"))
    async def classes(self, interaction: discord.Interaction) -> None:
        """The channel's taught classes."""

        async def work() -> None:
            await self.bot.molbert.taught_classes(chat_ref(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)

    @app_commands.command(name="forget_class", description=text("discord_cmd_forget_class"))
    @app_commands.describe(name=text("discord_opt_class_name"))
    async def forget_class(self, interaction: discord.Interaction, name: str) -> None:
        """Forget one taught class (those who may manage the server)."""

        async def work() -> None:
            await self.bot.molbert.forget_class(chat_ref(interaction), name, is_admin(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Teach(bot))
