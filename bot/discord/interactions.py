"""Interaction tokens in Redis, so any frontend process can answer an interaction while Discord accepts its token.

An interaction's token lets the bot edit the original response and send follow-ups for 15 minutes, with no
channel permissions needed. The result of a job usually arrives later, maybe in another process (after a restart,
or on another replica), so the token is kept in Redis until shortly before it expires, keyed by the interaction id
(which is ``ChatRef.message_id``). Tokens are secrets: they are never logged and never leave Redis otherwise.

Who fills the original response ("thinking…") first is decided by an atomic claim: normally the frontend with the
"queued" text, but if a fast worker's result arrives first, the listener takes it and the frontend follows up.
The claim then holds the original response's message id (24 h), which later replies in the channel point to.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
import redis.asyncio as aioredis

if TYPE_CHECKING:
    from discord.types.interactions import Interaction as InteractionPayload

from core.keys import discord_original_key, discord_token_key

TOKEN_LIFETIME = timedelta(minutes=15)
EXPIRY_MARGIN_SECONDS = 5.0  # stop using a token this long before Discord does
ORIGINAL_TTL = 24 * 3600  # as long as the status message key (bot.queue.STATUS_TTL)
CLAIMED = "claimed"
ORIGINAL_FILL_TIMEOUT = 5.0  # seconds; filling it is one HTTP request


@dataclass(frozen=True)
class StoredInteraction:
    """What is needed to act on an interaction's responses later: ids, the token, the upload limit."""

    interaction_id: int
    application_id: int
    type: int
    version: int
    filesize_limit: int
    token: str = field(repr=False)

    @classmethod
    def of(cls, interaction: discord.Interaction) -> StoredInteraction:
        """The parts of a live interaction worth keeping."""
        return cls(
            interaction_id=interaction.id,
            application_id=interaction.application_id,
            type=interaction.type.value,
            version=interaction.version,
            filesize_limit=interaction.filesize_limit,
            token=interaction.token,
        )

    def to_json(self) -> str:
        """Serialised for Redis."""
        return json.dumps(
            {
                "id": str(self.interaction_id),
                "application_id": str(self.application_id),
                "type": self.type,
                "version": self.version,
                "attachment_size_limit": self.filesize_limit,
                "token": self.token,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> StoredInteraction:
        """Parse what :meth:`to_json` wrote."""
        data = json.loads(raw)
        return cls(
            interaction_id=int(data["id"]),
            application_id=int(data["application_id"]),
            type=int(data["type"]),
            version=int(data["version"]),
            filesize_limit=int(data["attachment_size_limit"]),
            token=data["token"],
        )

    def payload(self) -> InteractionPayload:
        """A minimal INTERACTION_CREATE payload, enough for discord.py to edit responses and send follow-ups."""
        return json.loads(self.to_json())

    def expires_at(self) -> float:
        """When Discord stops accepting the token (UNIX time): 15 minutes after the interaction was created."""
        return discord.utils.snowflake_time(self.interaction_id).timestamp() + TOKEN_LIFETIME.total_seconds()


class InteractionStore:
    """Interaction tokens and original-response claims in Redis."""

    def __init__(self, connection: aioredis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = connection
        self.clock = clock

    async def remember(self, interaction: discord.Interaction) -> None:
        """Keep the token of a just-acknowledged interaction until shortly before Discord expires it."""
        stored = StoredInteraction.of(interaction)
        ttl = stored.expires_at() - EXPIRY_MARGIN_SECONDS - self.clock()
        if ttl > 0:
            await self.redis.set(discord_token_key(stored.interaction_id), stored.to_json(), px=int(ttl * 1000))

    async def get(self, interaction_id: int | str) -> StoredInteraction | None:
        """The interaction with a still-valid token, or ``None`` (unknown, expired, or not an interaction id)."""
        if not str(interaction_id).isdigit():
            return None
        raw = await self.redis.get(discord_token_key(interaction_id))
        return None if raw is None else StoredInteraction.from_json(raw)

    async def forget(self, interaction_id: int | str) -> None:
        """Drop a token Discord refused (expired early, or the interaction is gone)."""
        await self.redis.delete(discord_token_key(interaction_id))

    async def claim_original(self, interaction_id: int | str) -> bool:
        """Take the right to fill the original response; ``False`` if someone already has it."""
        return bool(await self.redis.set(discord_original_key(interaction_id), CLAIMED, nx=True, ex=ORIGINAL_TTL))

    async def set_original(self, interaction_id: int | str, message_id: int) -> None:
        """Record the message id of the filled original response."""
        await self.redis.set(discord_original_key(interaction_id), str(message_id), ex=ORIGINAL_TTL)

    async def wait_for_original(self, interaction_id: int | str, timeout: float = ORIGINAL_FILL_TIMEOUT) -> None:
        """Wait (briefly) until whoever claimed the original response has filled it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.original(interaction_id) is None and loop.time() < deadline:
            await asyncio.sleep(0.05)

    async def was_claimed(self, interaction_id: int | str) -> bool:
        """Whether someone claimed the original response of ``interaction_id`` (filled or not): the id is then an
        interaction's, not a message's."""
        return bool(await self.redis.exists(discord_original_key(interaction_id)))

    async def original(self, interaction_id: int | str) -> int | None:
        """The message id of the original response, once it has been filled."""
        raw = await self.redis.get(discord_original_key(interaction_id))
        if raw is None:
            return None
        value = raw.decode() if isinstance(raw, bytes) else raw
        return int(value) if value.isdigit() else None
