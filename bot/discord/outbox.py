"""Sending into Discord: the Discord implementation of ``handlers.ports.Outbox``.

While the interaction's token is valid (15 minutes, kept in Redis by :class:`InteractionStore`), everything goes
through the interaction: the first message fills the original response ("thinking…"), the next ones are
follow-ups, and edits and deletions use the token too, so no channel permission is needed. After that (or when
Discord refuses the token) the bot posts in the channel itself, as a reply to the original response that mentions
the user, and if it may not post there (a DM it is not part of), it writes to the user's DMs.

Files are fitted to the upload limit (``Interaction.filesize_limit``, else the guild's, else 10 MiB): an image
that is too large is re-encoded as JPEG and, if needed, scaled down. Mentions are off except the user's own.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import discord
from PIL import Image

from bot.discord.buttons import keyboard_view
from bot.discord.chat import interaction_id_of
from bot.discord.interactions import InteractionStore, StoredInteraction
from core.protocol import ChatRef
from handlers.ports import Keyboard, MessageId

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024  # what Discord allows bots everywhere (DMs, unboosted guilds)
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015
UNKNOWN_MESSAGE = 10008
UNKNOWN_INTERACTION = 10062
JPEG_MAGIC = b"\xff\xd8\xff"
DM_SEPARATOR = "/"  # in the id of a message sent by DM: "<DM channel id>/<message id>"
_SHRINK_STEPS = ((1.0, 90), (1.0, 75), (0.75, 80), (0.5, 80), (0.35, 75), (0.25, 70))


@dataclass(frozen=True)
class Upload:
    """A file to attach; a fresh ``discord.File`` is made for every attempt (a sent one is consumed)."""

    data: bytes
    filename: str

    def fitted(self, limit: int) -> discord.File:
        """The file as Discord will take it under ``limit`` bytes."""
        data, filename = fit_file(self.data, self.filename, limit)
        return discord.File(io.BytesIO(data), filename=filename)


class DiscordOutbox:
    """Replies in the interaction while its token lives, in the channel (or DMs) afterwards."""

    photos_lossless = True  # an attachment is the PNG as uploaded

    def __init__(self, bot: discord.Client, interactions: InteractionStore) -> None:
        self.bot = bot
        self.interactions = interactions

    async def send_text(
        self, chat: ChatRef, text: str, buttons: Keyboard | None = None, *, quiet: bool = False
    ) -> MessageId:
        """Send ``text`` with optional persistent buttons (the first message of an interaction fills its original
        response); return its id. ``quiet``: posted in the channel, it names the user without pinging them."""
        return await self._send(chat, text, buttons=buttons, quiet=quiet)

    async def send_photo(self, chat: ChatRef, photo: bytes, caption: str, buttons: Keyboard | None = None) -> MessageId:
        """Send an image with ``caption`` and persistent buttons; return the message id. A JPEG (a user's photo,
        e.g. the best of a ranking) is named as one: Discord goes by the file name."""
        filename = "molbert.jpg" if photo.startswith(JPEG_MAGIC) else "molbert.png"
        return await self._send(chat, caption, Upload(photo, filename), buttons)

    async def send_document(self, chat: ChatRef, data: bytes, filename: str, caption: str) -> MessageId:
        """Send a file with ``caption``; return the message id."""
        return await self._send(chat, caption, Upload(data, filename))

    async def edit_text(
        self, chat: ChatRef, message_id: MessageId, text: str, buttons: Keyboard | None = None, *, resend: bool = True
    ) -> bool:
        """Replace the text and the buttons (none without ``buttons``) of a bot message and return ``True``; if it
        is gone or cannot be edited, return ``False``, after sending the text anew when ``resend``."""
        stored = await self._interaction(chat) if not _sent_by_dm(message_id) else None
        if stored is not None:
            try:
                await self._edit_in_interaction(stored, int(message_id), _clip(text), buttons)
                return True
            except discord.HTTPException as exc:
                if _message_gone(exc):
                    return await self._not_edited(chat, text, buttons, resend)
                await self._give_up_token(stored, exc)
        message = self._posted(chat, message_id)
        try:
            await message.edit(content=_clip(text), view=keyboard_view(buttons))
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("could not edit message %s in channel %s (%s)", message_id, chat.chat_id, exc.code)
            return await self._not_edited(chat, text, buttons, resend)
        return True

    async def _not_edited(self, chat: ChatRef, text: str, buttons: Keyboard | None, resend: bool) -> bool:
        if resend:
            await self.send_text(chat, text, buttons)
        return False

    async def delete_message(self, chat: ChatRef, message_id: MessageId) -> None:
        """Delete a bot message; one that is already gone is fine."""
        stored = await self._interaction(chat) if not _sent_by_dm(message_id) else None
        if stored is not None:
            try:
                await self._delete_in_interaction(stored, int(message_id))
                return
            except discord.HTTPException as exc:
                if _message_gone(exc):
                    return
                await self._give_up_token(stored, exc)
        message = self._posted(chat, message_id)
        try:
            await message.delete()
        except discord.NotFound:
            pass
        except discord.Forbidden as exc:
            log.info("may not delete message %s in channel %s (%s)", message_id, chat.chat_id, exc.code)

    async def close_unanswered(self, interaction: discord.Interaction) -> None:
        """Remove the "thinking…" response of an interaction that ended up sending nothing (a repeat)."""
        if await self.interactions.claim_original(interaction.id):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:
                log.info("could not delete the original response of interaction %s (%s)", interaction.id, exc.code)

    # --- through the interaction -------------------------------------------------------------------------

    async def _send(
        self,
        chat: ChatRef,
        content: str,
        upload: Upload | None = None,
        buttons: Keyboard | None = None,
        quiet: bool = False,
    ) -> MessageId:
        stored = await self._interaction(chat)
        if stored is not None:
            try:
                return await self._send_in_interaction(stored, _clip(content), upload, buttons)
            except discord.HTTPException as exc:
                await self._give_up_token(stored, exc)
        return await self._send_to_channel(chat, content, upload, buttons, quiet)

    async def _send_in_interaction(
        self, stored: StoredInteraction, content: str, upload: Upload | None, buttons: Keyboard | None
    ) -> int:
        interaction = self._rebuild(stored)
        extra: dict[str, Any] = {}
        view = keyboard_view(buttons)
        if view is not None:
            extra["view"] = view
        message: discord.InteractionMessage | discord.WebhookMessage
        if await self.interactions.claim_original(stored.interaction_id):
            if upload is not None:
                extra["attachments"] = [upload.fitted(stored.filesize_limit)]
            message = await interaction.edit_original_response(content=content, **extra)
            await self.interactions.set_original(stored.interaction_id, message.id)
        else:
            # A follow-up sent while the original is still "thinking…" would replace it (Discord's rule), and the
            # other side's edit would then overwrite this message: wait until the original has been filled.
            await self.interactions.wait_for_original(stored.interaction_id)
            if upload is not None:
                extra["file"] = upload.fitted(stored.filesize_limit)
            message = await interaction.followup.send(content=content, wait=True, **extra)
        return message.id

    async def _edit_in_interaction(
        self, stored: StoredInteraction, message_id: int, content: str, buttons: Keyboard | None
    ) -> None:
        interaction = self._rebuild(stored)
        view = keyboard_view(buttons)  # None takes the old buttons away
        if await self.interactions.original(stored.interaction_id) == message_id:
            await interaction.edit_original_response(content=content, view=view)
        else:
            await interaction.followup.edit_message(message_id, content=content, view=view)

    async def _delete_in_interaction(self, stored: StoredInteraction, message_id: int) -> None:
        interaction = self._rebuild(stored)
        if await self.interactions.original(stored.interaction_id) == message_id:
            await interaction.delete_original_response()
        else:
            await interaction.followup.delete_message(message_id)

    async def _interaction(self, chat: ChatRef) -> StoredInteraction | None:
        return await self.interactions.get(interaction_id_of(chat))

    def _rebuild(self, stored: StoredInteraction) -> discord.Interaction:
        """The interaction as discord.py knows it, from what Redis kept (this process may never have seen it)."""
        return discord.Interaction(data=stored.payload(), state=self.bot._connection)

    async def _give_up_token(self, stored: StoredInteraction, exc: discord.HTTPException) -> None:
        """Re-raise errors that are not about the token; forget a token Discord no longer takes."""
        if not _token_refused(exc):
            raise exc
        log.info("Discord refused the token of interaction %s (%s); using the channel", stored.interaction_id, exc.code)
        await self.interactions.forget(stored.interaction_id)

    # --- as the bot, in the channel ----------------------------------------------------------------------

    async def _send_to_channel(
        self, chat: ChatRef, content: str, upload: Upload | None, buttons: Keyboard | None, quiet: bool = False
    ) -> MessageId:
        """Post as a reply to the original response, mentioning the user (``quiet``: without pinging them); DM them
        (no mention) if the channel is closed, returning an id that names the DM channel too (``dm id/message id``),
        so that a later edit or deletion finds the message there."""
        user = discord.Object(int(chat.user_id))
        text = _clip(f"<@{user.id}> {content}")
        pinged = [] if quiet else [user]
        mentions = discord.AllowedMentions(everyone=False, roles=False, users=pinged, replied_user=False)
        channel = self.bot.get_partial_messageable(int(chat.chat_id))
        extra: dict[str, Any] = {"allowed_mentions": mentions}
        view = keyboard_view(buttons)
        if view is not None:
            extra["view"] = view
        limit = self._channel_filesize_limit(int(chat.chat_id))
        reply_to = await self._reply_target(chat)
        posting = dict(extra)
        if upload:
            posting["file"] = upload.fitted(limit)
        if reply_to:
            posting["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=channel.id, fail_if_not_exists=False
            )
        try:
            message = await channel.send(text, **posting)
        except (discord.Forbidden, discord.NotFound) as exc:
            log.info("may not post in channel %s (%s); writing to the user's DMs", chat.chat_id, exc.code)
            dm = await self.bot.create_dm(user)
            if view is not None:
                extra["view"] = keyboard_view(buttons)
            del extra["allowed_mentions"]
            if upload:
                extra["file"] = upload.fitted(DEFAULT_FILESIZE_LIMIT)
            message = await dm.send(_clip(content), **extra)  # no mention of the reader
            return f"{dm.id}{DM_SEPARATOR}{message.id}"
        return message.id

    def _posted(self, chat: ChatRef, message_id: MessageId) -> discord.PartialMessage:
        """A message the bot posted as itself: in the chat's channel, or in the DM channel its id names."""
        channel_id, _, own_id = str(message_id).rpartition(DM_SEPARATOR)
        return self.bot.get_partial_messageable(int(channel_id or chat.chat_id)).get_partial_message(int(own_id))

    async def _reply_target(self, chat: ChatRef) -> int | None:
        """The original response of the chat's interaction, or the message a pressed button is under; ``None`` for an
        interaction whose response was never filled (its token died first): there is no message to reply to."""
        anchor = interaction_id_of(chat)
        original = await self.interactions.original(anchor)
        if original is not None:
            return original
        if not anchor.isdigit() or await self.interactions.was_claimed(anchor):
            return None
        return int(anchor)

    def _channel_filesize_limit(self, channel_id: int) -> int:
        guild = getattr(self.bot.get_channel(channel_id), "guild", None)
        return max(DEFAULT_FILESIZE_LIMIT, guild.filesize_limit) if guild is not None else DEFAULT_FILESIZE_LIMIT


def fit_file(data: bytes, filename: str, limit: int) -> tuple[bytes, str]:
    """``data`` if it fits in ``limit`` bytes; an image re-encoded as JPEG (and scaled down) until it fits."""
    if len(data) <= limit:
        return data, filename
    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{filename} ({len(data)} bytes) exceeds the {limit}-byte upload limit") from exc
    stem = filename.rsplit(".", 1)[0]
    for scale, quality in _SHRINK_STEPS:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        out = io.BytesIO()
        (rgb if scale == 1.0 else rgb.resize(size, Image.Resampling.LANCZOS)).save(out, format="JPEG", quality=quality)
        if out.tell() <= limit:
            return out.getvalue(), f"{stem}.jpg"
    raise ValueError(f"{filename} cannot be made smaller than the {limit}-byte upload limit")


def _sent_by_dm(message_id: MessageId) -> bool:
    return DM_SEPARATOR in str(message_id)


def _clip(text: str) -> str:
    return text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"


def _token_refused(exc: discord.HTTPException) -> bool:
    """Discord's answers to an expired or unknown interaction token."""
    return exc.status == 401 or exc.code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK, UNKNOWN_INTERACTION)


def _message_gone(exc: discord.HTTPException) -> bool:
    return exc.status == 404 and exc.code == UNKNOWN_MESSAGE
