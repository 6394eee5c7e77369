"""``/imagine prompt:<описание> [aspect] [style] [negative] [seed] [count] [image]``: queue a picture (painted from
``image`` when one is attached), and the «Нарисовать по картинке» message menu, which asks for the description in a
modal and paints from the message's first picture.

The typed options go to the handlers by the names of the ``/imagine`` ``--options`` (``typed_options``), so the
handlers stay the only place that checks them; their values are taken as typed (a ``negative`` holding ``--n 4`` is
a negative prompt, not an option), while ``--options`` typed into the prompt work as on Telegram. Discord
additionally enforces the ranges in the client. The "queued" status fills the deferred response.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref, language
from bot.discord.cogs.classify import is_image, reader, refusal
from bot.discord.responses import answer
from bot.discord.translator import text
from core.protocol import ChatRef
from handlers.options import MAX_IMAGES, MAX_NEGATIVE_CHARS, MAX_SEED
from handlers.ports import Upload
from handlers.prompts import MAX_PROMPT_CHARS
from handlers.styles import STYLES
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

ASPECTS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16")
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 suggestions
MODAL_TIMEOUT = 15 * 60.0  # seconds discord.py waits for the description; a later submit fails in the user's client
PROMPT_INPUT = "prompt"  # the custom_id of the modal's text field

log = logging.getLogger(__name__)


def typed_options(
    *,
    aspect: str | None = None,
    style: str | None = None,
    negative: str | None = None,
    seed: int | None = None,
    count: int | None = None,
    enhance: bool | None = None,
) -> dict[str, object]:
    """The options the user filled in, by the ``--option`` names the handlers parse (``--ar``, ``--style``…)."""
    options = {"ar": aspect, "style": style, "no": negative, "seed": seed, "n": count, "enhance": enhance}
    return {name: value for name, value in options.items() if value is not None}


def style_suggestions(current: str) -> list[app_commands.Choice[str]]:
    """Styles whose name or alias contains what the user typed so far."""
    typed = current.strip().casefold()
    found = [s for s in STYLES if not typed or any(typed in name.casefold() for name in (s.name, *s.aliases))]
    return [
        app_commands.Choice(name=f"{s.name} ({s.aliases[0]})" if s.aliases else s.name, value=s.name)
        for s in found[:AUTOCOMPLETE_LIMIT]
    ]


class PromptModal(discord.ui.Modal):
    """ "What to paint from this picture?": one text field (options may follow the description, as in /imagine)."""

    def __init__(self, lang: str, on_prompt: Callable[[discord.Interaction, str], Awaitable[None]]) -> None:
        super().__init__(title=t("discord_imagine_modal_title", lang), timeout=MODAL_TIMEOUT)
        self.on_prompt = on_prompt
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            custom_id=PROMPT_INPUT,
            placeholder=t("discord_imagine_modal_placeholder", lang),
            max_length=MAX_PROMPT_CHARS * 2,  # room for --options after the description
        )
        self.add_item(discord.ui.Label(text=t("discord_imagine_modal_label", lang), component=self.prompt))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Paint what the user typed (the handlers answer a blank or bad one)."""
        await self.on_prompt(interaction, self.prompt.value)


class Imagine(commands.Cog):
    """Painting."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=text("discord_ctx_imagine"), callback=self.imagine_message)

    async def cog_load(self) -> None:
        """Context menus cannot live inside a cog class: register it with the tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the context menu back out of the tree."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="imagine", description=text("cmd_imagine"))
    @app_commands.describe(
        prompt=text("discord_opt_prompt"),
        aspect=text("discord_opt_aspect"),
        style=text("discord_opt_style"),
        negative=text("discord_opt_negative"),
        seed=text("discord_opt_seed"),
        count=text("discord_opt_count"),
        image=text("discord_opt_imagine_image"),
        enhance=text("discord_opt_enhance"),
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
        image: discord.Attachment | None = None,
        enhance: bool | None = None,
    ) -> None:
        """Queue a picture of ``prompt``, painted from ``image`` when attached (handlers check it and its options,
        and answer bad ones); ``enhance``: ✨ from a richer description the worker writes first."""
        fields = typed_options(aspect=aspect, style=style, negative=negative, seed=seed, count=count, enhance=enhance)

        async def work() -> None:
            await self.imagine_from(chat_ref(interaction), prompt, fields, image)

        await answer(self.bot, interaction, work)

    async def imagine_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Ask for the description in a modal, then paint from the message's first picture; a message without one
        is refused at once."""
        picture = next((attachment for attachment in message.attachments if is_image(attachment)), None)
        if picture is None:

            async def refuse() -> None:
                await self.bot.molbert.refuse(chat_ref(interaction), self.bot.outbox, "discord_no_images")

            await answer(self.bot, interaction, refuse)
            return

        async def painted(submitted: discord.Interaction, prompt: str) -> None:
            async def work() -> None:
                await self.imagine_from(chat_ref(submitted), prompt, None, picture)

            await answer(self.bot, submitted, work)

        try:
            await interaction.response.send_modal(PromptModal(language(interaction), painted))
        except discord.HTTPException as exc:  # too late (past Discord's 3 s), or a repeated event
            log.warning("could not open the modal of interaction %s (%s %s)", interaction.id, exc.status, exc.code)

    async def imagine_from(
        self, chat: ChatRef, prompt: str, fields: dict[str, object] | None, picture: discord.Attachment | None
    ) -> None:
        """Queue the picture; an attachment that is no image, or too big, is refused before it is downloaded."""
        molbert, outbox = self.bot.molbert, self.bot.outbox
        if picture is not None and (refused := refusal(picture)) is not None:
            await molbert.refuse(chat, outbox, refused[0], **refused[1])
            return
        photo = Upload(reader(picture), picture.size) if picture is not None else None
        await molbert.imagine(chat, prompt, outbox, fields, photo=photo)

    @imagine.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest styles as the user types (any other value is refused by the handlers, with the list)."""
        return style_suggestions(current)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Imagine(bot))
