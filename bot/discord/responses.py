"""Answering an application command: acknowledge within 3 s, run the use case, never leave "thinking…" behind."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.discord.chat import chat_ref, language
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

log = logging.getLogger(__name__)


async def acknowledge(interaction: discord.Interaction, *, ephemeral: bool = False) -> bool:
    """Defer the response ("thinking…"; then up to 15 minutes to fill it).

    Returns ``False`` when Discord refuses: the interaction was acknowledged already (a repeat) or we were too late.
    """
    try:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    except discord.HTTPException as exc:
        log.warning("could not acknowledge interaction %s (%s %s); ignoring it", interaction.id, exc.status, exc.code)
        return False
    return True


async def answer(
    bot: MolbertBot,
    interaction: discord.Interaction,
    work: Callable[[], Awaitable[object]],
    *,
    ephemeral: bool = False,
) -> None:
    """Acknowledge ``interaction``, keep its token for later deliveries, then run ``work``, whose messages fill
    the response and follow it.

    An unexpected error is logged and the user gets a short apology; an interaction that ended up sending
    nothing (a repeated event, whose job exists already) has its "thinking…" response removed.
    """
    if not await acknowledge(interaction, ephemeral=ephemeral):
        return
    try:
        await bot.interactions.remember(interaction)
        await work()
    except Exception:
        log.exception("interaction %s (%s) failed", interaction.id, _command_name(interaction))
        await _apologise(bot, interaction)
    try:
        await bot.outbox.close_unanswered(interaction)
    except Exception:
        log.exception("could not tidy up interaction %s", interaction.id)


async def _apologise(bot: MolbertBot, interaction: discord.Interaction) -> None:
    text = t("discord_error", language(interaction))
    try:
        await bot.outbox.send_text(chat_ref(interaction), text)
    except Exception:  # e.g. Redis is down: answer through the live interaction itself
        log.warning("could not apologise through the outbox for interaction %s; following up directly", interaction.id)
        try:
            await interaction.followup.send(text)
        except discord.HTTPException:
            log.exception("could not tell the user about the failure of interaction %s", interaction.id)


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else "?"
