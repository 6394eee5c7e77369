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
        """Tell the presser the press's notice, only them (ephemeral), as soon as it is known and within 3 s; the
        slow part (U's uploads, queueing with its status message) follows. A notice not known within the budget
        (Redis slow) defers the press, and the notice then replaces "thinking…"."""
        chat = press_chat_ref(interaction)
        if action.startswith(f"{REMIX}:"):
            await self.remix(interaction, chat, action)
            return
        reply = _Acknowledgement(interaction, chat.message_id, action)
        work = asyncio.create_task(
            self.bot.molbert.press(
                chat,
                action,
                event_id=str(interaction.id),
                outbox=self.bot.outbox,
                is_admin=_admin_check(interaction),
                answer=reply.answer,
            )
        )
        given = asyncio.create_task(reply.given.wait())
        try:
            budget = answer_budget(interaction)
            done, _ = await asyncio.wait({work, given}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                await reply.defer()
            await asyncio.wait({work})
        finally:
            given.cancel()
        await reply.answer(self._notice(work, interaction))  # a press that ended before its notice (Redis away)

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


class _Acknowledgement:
    """The one answer a press gets: sent at once, or after a deferral as an edit; later answers are dropped.

    A failed answer is logged, never raised: the press's work (U's uploads, a job) goes on without it.
    """

    def __init__(self, interaction: discord.Interaction, message_id: object, action: str) -> None:
        self.interaction = interaction
        self.where = (message_id, action)
        self.given = asyncio.Event()
        self._deferred = False
        self._lock = asyncio.Lock()  # the answer and the deferral never cross

    async def answer(self, notice: str) -> None:
        """Send ``notice`` to the presser, unless they got one already."""
        async with self._lock:
            if self.given.is_set():
                return
            self.given.set()
            try:
                if self._deferred:
                    await self.interaction.edit_original_response(content=notice)
                else:
                    await self.interaction.response.send_message(notice, ephemeral=True)
            except discord.HTTPException as exc:
                log.warning(
                    "could not answer the press %s on %s (%s %s)", self.where[1], self.where[0], exc.status, exc.code
                )

    def _failed(self, what: str, exc: discord.HTTPException) -> None:
        message_id, action = self.where
        log.warning("could not %s the press %s on %s (%s %s)", what, action, message_id, exc.status, exc.code)

    async def defer(self) -> None:
        """Show "thinking…" to the presser until the notice is known (Discord wants an answer within 3 s)."""
        async with self._lock:
            if self.given.is_set():
                return
            try:
                await self.interaction.response.defer(ephemeral=True, thinking=True)
                self._deferred = True
            except discord.HTTPException as exc:
                log.warning(
                    "could not defer the press %s on %s (%s %s)", self.where[1], self.where[0], exc.status, exc.code
                )


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
