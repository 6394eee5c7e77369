"""Discord interaction → the platform-neutral :class:`ChatRef`."""

from __future__ import annotations

import discord

from core.protocol import ChatRef
from handlers.texts import pick_language

PLATFORM = "discord"
PART_SEPARATOR = "_"


def chat_ref(interaction: discord.Interaction, *, part: int = 0) -> ChatRef:
    """Where to answer an application command: its channel (a thread is a channel), in the user's language.

    ``message_id`` is the interaction id, so the job id derives from the event and a re-delivered interaction
    makes no second job; ``part`` tells apart several jobs of one interaction (the images of one message).
    """
    message_id: int | str = interaction.id if part == 0 else f"{interaction.id}{PART_SEPARATOR}{part}"
    return _chat(interaction, message_id)


def press_chat_ref(interaction: discord.Interaction) -> ChatRef:
    """Where to answer a button press: ``message_id`` is the message the button is under."""
    message = interaction.message
    return _chat(interaction, message.id if message is not None else interaction.id)


def interaction_id_of(chat: ChatRef) -> str:
    """The interaction a Discord chat reference came from (or the message it points to, for button presses)."""
    return str(chat.message_id).partition(PART_SEPARATOR)[0]


def is_admin(interaction: discord.Interaction) -> bool:
    """The user administers where they asked: Manage Server in a guild; anyone in a DM with the bot."""
    return interaction.guild_id is None or interaction.permissions.manage_guild


def language(interaction: discord.Interaction) -> str:
    """Russian by default; English for English Discord clients."""
    return pick_language(interaction.locale.value if interaction.locale else None)


def _chat(interaction: discord.Interaction, message_id: int | str) -> ChatRef:
    channel = interaction.channel
    channel_id = interaction.channel_id
    if channel_id is None:  # Discord sends the channel with every interaction since API v10
        raise ValueError(f"interaction {interaction.id} carries no channel")
    is_thread = isinstance(channel, discord.Thread)
    parents = (channel.parent_id,) if isinstance(channel, discord.Thread) and channel.parent_id else ()
    return ChatRef(
        platform=PLATFORM,
        chat_id=channel_id,
        user_id=interaction.user.id,
        message_id=message_id,
        thread_id=channel_id if is_thread else None,
        parent_ids=(*parents, *((interaction.guild_id,) if interaction.guild_id else ())),
        lang=language(interaction),
    )
