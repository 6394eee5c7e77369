"""Buttons (U1–U4, V1–V4, 🔄 under results; ✖ under "queued" messages): any press, on any message, however old,
goes to ``Molbert.press``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord.buttons import ActionButton
from bot.discord.chat import is_admin, language, press_chat_ref
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

log = logging.getLogger(__name__)

ANSWER_BUDGET = 1.5  # seconds to wait for the notice before deferring (Discord wants an answer within 3 s)
ANSWER_BY = 2.0  # … counted from the press, so a press that reached us late is deferred sooner


class Buttons(commands.Cog):
    """Persistent buttons under results."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Listen for every ``ActionButton`` custom id, whatever message it is on."""
        self.bot.add_dynamic_items(ActionButton)

    async def cog_unload(self) -> None:
        """Stop listening."""
        self.bot.remove_dynamic_items(ActionButton)

    async def press(self, interaction: discord.Interaction, action: str) -> None:
        """Run the use case and tell the presser its notice, only them (ephemeral), within 3 s."""
        chat = press_chat_ref(interaction)
        work = asyncio.create_task(
            self.bot.molbert.press(
                chat, action, event_id=str(interaction.id), outbox=self.bot.outbox, is_admin=_admin_check(interaction)
            )
        )
        try:
            done, _ = await asyncio.wait({work}, timeout=answer_budget(interaction))
            if work in done:
                await interaction.response.send_message(self._notice(work, interaction), ephemeral=True)
                return
            await interaction.response.defer(ephemeral=True, thinking=True)
            await asyncio.wait({work})
            await interaction.edit_original_response(content=self._notice(work, interaction))
        except discord.HTTPException as exc:
            log.warning("could not answer the press %s on %s (%s %s)", action, chat.message_id, exc.status, exc.code)
            await asyncio.gather(work, return_exceptions=True)

    @staticmethod
    def _notice(work: asyncio.Task[str], interaction: discord.Interaction) -> str:
        if work.exception() is not None:
            log.error("press failed", exc_info=work.exception())
            return t("discord_error", language(interaction))
        return work.result()


def _admin_check(interaction: discord.Interaction):
    """For ``Molbert.press``: whether the presser may manage the server (the permission came with the press)."""

    async def check() -> bool:
        return is_admin(interaction)

    return check


def answer_budget(interaction: discord.Interaction) -> float:
    """How long the notice may take before the press must be deferred instead."""
    age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    return min(ANSWER_BUDGET, max(0.0, ANSWER_BY - age))


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Buttons(bot))
