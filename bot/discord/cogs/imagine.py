"""``/imagine prompt:<описание> [aspect] [style] [negative] [seed] [count]``: queue a picture.

The typed options go to the handlers by the names of the ``/imagine`` ``--options`` (``typed_options``), so the
handlers stay the only place that checks them; their values are taken as typed (a ``negative`` holding ``--n 4`` is
a negative prompt, not an option), while ``--options`` typed into the prompt work as on Telegram. Discord
additionally enforces the ranges in the client. The "queued" status fills the deferred response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref
from bot.discord.responses import answer
from bot.discord.translator import text
from handlers.options import MAX_IMAGES, MAX_NEGATIVE_CHARS, MAX_SEED
from handlers.styles import STYLES

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

ASPECTS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16")
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 suggestions


def typed_options(
    *,
    aspect: str | None = None,
    style: str | None = None,
    negative: str | None = None,
    seed: int | None = None,
    count: int | None = None,
) -> dict[str, object]:
    """The options the user filled in, by the ``--option`` names the handlers parse (``--ar``, ``--style``…)."""
    options = {"ar": aspect, "style": style, "no": negative, "seed": seed, "n": count}
    return {name: value for name, value in options.items() if value is not None}


def style_suggestions(current: str) -> list[app_commands.Choice[str]]:
    """Styles whose name or alias contains what the user typed so far."""
    typed = current.strip().casefold()
    found = [s for s in STYLES if not typed or any(typed in name.casefold() for name in (s.name, *s.aliases))]
    return [
        app_commands.Choice(name=f"{s.name} ({s.aliases[0]})" if s.aliases else s.name, value=s.name)
        for s in found[:AUTOCOMPLETE_LIMIT]
    ]


class Imagine(commands.Cog):
    """Painting."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description=text("cmd_imagine"))
    @app_commands.describe(
        prompt=text("discord_opt_prompt"),
        aspect=text("discord_opt_aspect"),
        style=text("discord_opt_style"),
        negative=text("discord_opt_negative"),
        seed=text("discord_opt_seed"),
        count=text("discord_opt_count"),
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=ratio, value=ratio) for ratio in ASPECTS])
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        aspect: str | None = None,
        style: str | None = None,
        negative: app_commands.Range[str, 1, MAX_NEGATIVE_CHARS] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        count: app_commands.Range[int, 1, MAX_IMAGES] | None = None,
    ) -> None:
        """Queue a picture of ``prompt`` (handlers check it and its options, and answer bad ones)."""
        fields = typed_options(aspect=aspect, style=style, negative=negative, seed=seed, count=count)

        async def work() -> None:
            await self.bot.molbert.imagine(chat_ref(interaction), prompt, self.bot.outbox, fields)

        await answer(self.bot, interaction, work)

    @imagine.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest styles as the user types (any other value is refused by the handlers, with the list)."""
        return style_suggestions(current)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Imagine(bot))
