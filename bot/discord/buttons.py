"""Neutral result buttons → Discord components that keep working after a restart.

Each button is a :class:`ActionButton`, a ``DynamicItem`` whose ``custom_id`` is the handlers' action string
(``u:<job id>:<i>``, ``v:…``, ``r:…``, ``z:…`` (zoom out / pan), ``d:…`` under a /describe answer, and
``x:<job id>`` for the ✖ under a "queued" message; at most 64 bytes, Discord allows 100). The bot registers the
class once, so a press on any message, however old and whichever process sent it, reaches ``Buttons.press``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from handlers.ports import Keyboard

log = logging.getLogger(__name__)

ACTION_TEMPLATE = r"(?P<action>[uvrxmdzfse]:\S{1,98})"  # d: /describe's 🎨; z: zoom / pan; f: 👍/👎; s: ⤴; e: ✨
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
MAX_ROWS = 5
MAX_PER_ROW = 5
_ACTION = re.compile(ACTION_TEMPLATE)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=ACTION_TEMPLATE):
    """A result button carrying its action in ``custom_id``."""

    def __init__(self, action: str, label: str | None = None, row: int | None = None) -> None:
        super().__init__(action_button(action, label), row=row)
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        """Rebuild the button from a pressed component (any message, any process)."""
        return cls(match["action"], label=item.label if isinstance(item, discord.ui.Button) else None)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the buttons cog."""
        await hand_to_cog(interaction, "Buttons", self.action)


def action_button(action: str, label: str | None = None) -> discord.ui.Button:
    """A grey button whose ``custom_id`` is ``action`` (the label cut to Discord's limit; the action if none)."""
    label = (label or action)[:LABEL_LIMIT]
    return discord.ui.Button(label=label, custom_id=action, style=discord.ButtonStyle.secondary)


async def hand_to_cog(interaction: discord.Interaction[Any], cog_name: str, action: str) -> None:
    """Pass a press to ``cog_name``'s ``press``; with the cog unloaded (shutting down), Discord tells the user it
    failed."""
    cog = interaction.client.get_cog(cog_name)
    if cog is None:
        log.warning("button %r pressed while the %s cog is not loaded", action, cog_name)
        return
    await cog.press(interaction, action)


def keyboard_view(buttons: Keyboard | None) -> discord.ui.View | None:
    """A persistent view (no timeout) of neutral button rows; ``None`` when there are no buttons."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for row, line in enumerate(buttons[:MAX_ROWS]):
        for button in line[:MAX_PER_ROW]:
            if _ACTION.fullmatch(button.action):
                view.add_item(ActionButton(button.action, button.text, row=row))
            else:  # nothing would answer it: show it, but not as a trap
                log.warning("button action %r has no Discord handler; shown disabled", button.action)
                view.add_item(
                    discord.ui.Button(
                        label=button.text[:LABEL_LIMIT],
                        custom_id=button.action[:CUSTOM_ID_LIMIT],
                        disabled=True,
                        row=row,
                    )
                )
    return view
