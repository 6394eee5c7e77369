"""``/help``: the commands with examples, and ``/forget``: the user's feedback deleted; both shown only to the user
who asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref
from bot.discord.responses import answer
from bot.discord.translator import text

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot


class Basics(commands.Cog):
    """Help."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description=text("cmd_help"))
    async def help_(self, interaction: discord.Interaction) -> None:
        """Explain the commands (an ephemeral answer: no clutter in the channel)."""

        async def work() -> None:
            await self.bot.molbert.help(chat_ref(interaction), self.bot.outbox, "discord_help")

        await answer(self.bot, interaction, work, ephemeral=True)

    @app_commands.command(name="forget", description=text("cmd_forget"))
    async def forget(self, interaction: discord.Interaction) -> None:
        """Delete the user's feedback records on Discord (the answer only they see)."""

        async def work() -> None:
            await self.bot.molbert.forget(chat_ref(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Basics(bot))
