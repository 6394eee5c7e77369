"""``/settings``: the channel's settings for those who may manage the server, as an ephemeral menu edited in place.

Admins are members with the Manage Server permission (in a DM with the bot, the user). The menu's buttons are
:class:`SettingsButton` ``DynamicItem``s whose ``custom_id`` is the handlers' menu action (``cs``, ``cs:<field>``,
``cs:<field>:<value>``), so a press reaches :meth:`Settings.press` whichever process drew the menu; the
permission is checked again on every press. Discord has no auto-classified photos (the bot reads no messages),
so that setting is not shown here.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.buttons import action_button, hand_to_cog
from bot.discord.chat import chat_ref, is_admin, language, press_chat_ref
from bot.discord.translator import text
from handlers.chat_settings import ALL_FIELDS, Menu
from handlers.texts import t

if TYPE_CHECKING:
    from bot.discord.app import MolbertBot

log = logging.getLogger(__name__)

SETTINGS_TEMPLATE = r"(?P<action>cs(?::\S{1,90})?)"
DISCORD_FIELDS = tuple(name for name in ALL_FIELDS if name != "classify")


class SettingsButton(discord.ui.DynamicItem[discord.ui.Button], template=SETTINGS_TEMPLATE):
    """A settings-menu button carrying its menu action in ``custom_id``."""

    def __init__(self, action: str, label: str | None = None, row: int | None = None) -> None:
        super().__init__(action_button(action, label), row=row)
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SettingsButton:
        """Rebuild the button from a pressed component."""
        return cls(match["action"], label=item.label if isinstance(item, discord.ui.Button) else None)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the settings cog."""
        await hand_to_cog(interaction, "Settings", self.action)


def menu_view(menu: Menu) -> discord.ui.View:
    """The menu's buttons as a view (no timeout: the buttons are dynamic items)."""
    view = discord.ui.View(timeout=None)
    for row, line in enumerate(menu.buttons or []):
        for button in line:
            view.add_item(SettingsButton(button.action, button.text, row=row))
    return view


class Settings(commands.Cog):
    """Per-channel settings."""

    def __init__(self, bot: MolbertBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Listen for every ``SettingsButton`` custom id."""
        self.bot.add_dynamic_items(SettingsButton)

    async def cog_unload(self) -> None:
        """Stop listening."""
        self.bot.remove_dynamic_items(SettingsButton)

    @app_commands.command(name="settings", description=text("cmd_settings"))
    async def settings(self, interaction: discord.Interaction) -> None:
        """Show the menu (admins) or a refusal (everyone else), only to the user who asked."""
        menu = await self.bot.molbert.settings(chat_ref(interaction), is_admin(interaction), DISCORD_FIELDS)
        extra: dict[str, Any] = {"view": menu_view(menu)} if menu.buttons else {}
        await interaction.response.send_message(menu.text, ephemeral=True, **extra)

    async def press(self, interaction: discord.Interaction, action: str) -> None:
        """Change a setting (or open a field's choices) and redraw the menu; refusals only to the presser."""
        try:
            notice, menu = await self.bot.molbert.settings_press(
                press_chat_ref(interaction), action, is_admin(interaction), DISCORD_FIELDS
            )
        except Exception:
            log.exception("settings press %r failed", action)
            notice, menu = t("discord_error", language(interaction)), None
        if menu is not None:
            await interaction.response.edit_message(content=menu.text, view=menu_view(menu))
        else:
            await interaction.response.send_message(notice, ephemeral=True)


async def setup(bot: MolbertBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Settings(bot))
