"""Buttons (U1–U4, V1–V4, 🔄 under results; ✖ under "queued" messages): any press, on any message, however old,
goes to ``Molbert.press``. 🖋 opens a modal with the result's description and options to change (the bot cannot
read replies: it has no message content intent), and its submission remixes the result."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.discord.buttons import ActionButton
from bot.discord.chat import chat_ref, is_admin, language, press_chat_ref
from bot.discord.responses import answer
from core.protocol import ChatRef
from handlers.buttons import REMIX
from handlers.prompts import MAX_PROMPT_CHARS
from handlers.remix import RemixForm
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

log = logging.getLogger(__name__)

MODAL_TIMEOUT = 15 * 60.0  # seconds discord.py waits for the change; a later submit fails in the user's client
DESCRIPTION_INPUT, OPTIONS_INPUT = "description", "options"  # the custom_ids of the modal's text fields
OPTIONS_MAX_CHARS = 400


class RemixModal(discord.ui.Modal):
    """🖋: the result's description and options, filled in; submitting them remixes the result."""

    def __init__(
        self, lang: str, form: RemixForm, on_submit: Callable[[discord.Interaction, str], Awaitable[None]]
    ) -> None:
        super().__init__(title=t("discord_remix_modal_title", lang), timeout=MODAL_TIMEOUT)
        self.on_change = on_submit
        self.description: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            custom_id=DESCRIPTION_INPUT,
            style=discord.TextStyle.paragraph,
            default=form.description[:MAX_PROMPT_CHARS],
            max_length=MAX_PROMPT_CHARS,
        )
        self.options: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            custom_id=OPTIONS_INPUT,
            default=form.options[:OPTIONS_MAX_CHARS],
            placeholder="--ar 9:16 --style акварель --no люди",
            max_length=OPTIONS_MAX_CHARS,
            required=False,
        )
        self.add_item(discord.ui.Label(text=t("discord_remix_modal_description", lang), component=self.description))
        self.add_item(discord.ui.Label(text=t("discord_remix_modal_options", lang), component=self.options))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Remix with what the fields hold now: a changed description (or «а без шляпы» typed into it) and the
        options, each option as given there."""
        await self.on_change(interaction, f"{self.description.value} {self.options.value}".strip())


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
        if action.startswith(f"{REMIX}:"):
            await self.remix(interaction, chat, action)
            return
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

    async def remix(self, interaction: discord.Interaction, chat: ChatRef, action: str) -> None:
        """🖋: the modal for the requester (a notice for anyone else, or when the request is forgotten)."""
        form = await self.bot.molbert.remix_form(chat, action)

        async def remixed(submitted: discord.Interaction, text: str) -> None:
            assert isinstance(form, RemixForm)

            async def work() -> None:
                await self.bot.molbert.remix(chat_ref(submitted), form.job_id, text, self.bot.outbox)

            await answer(self.bot, submitted, work)

        try:
            if isinstance(form, str):
                await interaction.response.send_message(form, ephemeral=True)
            else:
                await interaction.response.send_modal(RemixModal(language(interaction), form, remixed))
        except discord.HTTPException as exc:  # too late (past Discord's 3 s), or a repeated event
            log.warning("could not answer the 🖋 press %s (%s %s)", interaction.id, exc.status, exc.code)

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
