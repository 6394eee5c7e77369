"""Ranking pictures by a query: ``/rank query:<запрос> image1:… image10:…`` and the "Выбрать лучшую по запросу"
message menu, which asks for the query in a modal.

Both hand the pictures to ``Molbert.rank``, the use case of Telegram's captioned albums, which checks them and
queues one job. The pictures have no messages of their own to reply to, so the result comes in the interaction
with the ranking and the best picture attached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.chat import chat_ref, language
from bot.discord.cogs.classify import is_image, uploads_of
from bot.discord.responses import answer
from bot.discord.translator import text
from core.protocol import MAX_RANKED_PHOTOS, ChatRef
from handlers.prompts import MAX_PROMPT_CHARS
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

log = logging.getLogger(__name__)

MODAL_TIMEOUT = 15 * 60.0  # seconds discord.py waits for the query; a later submit fails in the user's client
QUERY_INPUT = "query"  # the custom_id of the modal's text field
IMAGE_OPTION = text("discord_opt_rank_image")


class QueryModal(discord.ui.Modal):
    """ "What to look for?": one text field; submitting it ranks the pictures chosen before."""

    def __init__(self, lang: str, on_query: Callable[[discord.Interaction, str], Awaitable[None]]) -> None:
        super().__init__(title=t("discord_rank_modal_title", lang), timeout=MODAL_TIMEOUT)
        self.on_query = on_query
        self.query: discord.ui.TextInput[QueryModal] = discord.ui.TextInput(
            custom_id=QUERY_INPUT,
            placeholder=t("discord_rank_modal_placeholder", lang),
            max_length=MAX_PROMPT_CHARS,
        )
        self.add_item(discord.ui.Label(text=t("discord_rank_modal_label", lang), component=self.query))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Rank with what the user typed (the handlers answer a blank query)."""
        await self.on_query(interaction, self.query.value)


class Rank(commands.Cog):
    """The best picture for a query."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=text("discord_ctx_rank"), callback=self.rank_message)

    async def cog_load(self) -> None:
        """Context menus cannot live inside a cog class: register it with the tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Take the context menu back out of the tree."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(name="rank", description=text("discord_cmd_rank"))
    @app_commands.describe(
        query=text("discord_opt_query"), **{f"image{number}": IMAGE_OPTION for number in range(1, 11)}
    )
    async def rank(  # Discord takes attachments as options: one parameter each
        self,
        interaction: discord.Interaction,
        query: str,
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        image6: discord.Attachment | None = None,
        image7: discord.Attachment | None = None,
        image8: discord.Attachment | None = None,
        image9: discord.Attachment | None = None,
        image10: discord.Attachment | None = None,
    ) -> None:
        """Rank the attached pictures (numbered in the order given) by ``query``."""
        given = (image1, image2, image3, image4, image5, image6, image7, image8, image9, image10)

        async def work() -> None:
            await self.rank_attachments(chat_ref(interaction), given, query)

        await answer(self.bot, interaction, work)

    async def rank_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Ask for the query in a modal, then rank the message's pictures; fewer than two are refused at once."""
        pictures = [attachment for attachment in message.attachments if is_image(attachment)]
        if len(pictures) < 2:
            key = "discord_rank_photo_count" if pictures else "discord_no_images"

            async def work() -> None:
                await self.bot.molbert.refuse(chat_ref(interaction), self.bot.outbox, key, limit=MAX_RANKED_PHOTOS)

            await answer(self.bot, interaction, work)
            return

        async def ranked(submitted: discord.Interaction, query: str) -> None:
            async def work() -> None:
                await self.rank_attachments(chat_ref(submitted), pictures, query)

            await answer(self.bot, submitted, work)

        try:
            await interaction.response.send_modal(QueryModal(language(interaction), ranked))
        except discord.HTTPException as exc:  # too late (past Discord's 3 s), or a repeated event
            log.warning("could not open the modal of interaction %s (%s %s)", interaction.id, exc.status, exc.code)

    async def rank_attachments(self, chat: ChatRef, pictures: Iterable[discord.Attachment | None], query: str) -> None:
        """Refuse a non-image or too big a file before downloading anything; let the handlers do the rest."""
        uploads = await uploads_of(self.bot, chat, pictures)
        if uploads is not None:
            await self.bot.molbert.rank(chat, uploads, query, self.bot.outbox)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Rank(bot))
