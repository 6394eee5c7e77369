"""``/queue``, ``/cancel``, ``/labels`` and ``/stats``: the user's jobs, the channel's label set, the operator's
figures. Answers are ephemeral: only the one who asked sees them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref, is_admin
from bot.discord.responses import answer
from bot.discord.translator import text

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot


class Jobs(commands.Cog):
    """The queue, the channel's labels and the operator's statistics."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    @app_commands.command(name="queue", description=text("cmd_queue"))
    async def queue(self, interaction: discord.Interaction) -> None:
        """The user's jobs in this channel with their places and waits."""

        async def work() -> None:
            await self.bot.molbert.queue(chat_ref(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)

    @app_commands.command(name="cancel", description=text("cmd_cancel"))
    async def cancel(self, interaction: discord.Interaction) -> None:
        """Cancel the user's waiting jobs in this channel and stop the running one."""

        async def work() -> None:
            await self.bot.molbert.cancel(chat_ref(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)

    @app_commands.command(name="labels", description=text("cmd_labels"))
    @app_commands.describe(labels=text("discord_opt_chat_labels"))
    async def labels(self, interaction: discord.Interaction, labels: str | None = None) -> None:
        """Show the channel's label set for photos; those who may manage the server set or reset it."""

        async def work() -> None:
            await self.bot.molbert.labels(chat_ref(interaction), labels, is_admin(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)

    @app_commands.command(name="stats", description=text("cmd_stats"))
    async def stats(self, interaction: discord.Interaction) -> None:
        """Operator figures (refused politely for everyone else)."""

        async def work() -> None:
            await self.bot.molbert.stats(chat_ref(interaction), self.bot.outbox)

        await answer(self.bot, interaction, work, ephemeral=True)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Jobs(bot))
