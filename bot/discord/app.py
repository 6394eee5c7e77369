"""The Discord frontend: a ``commands.Bot`` with one cog per feature, and the listener that delivers results.

Slash commands are synced explicitly (``python -m bot sync-commands [--guild ID]``), never on start: syncing is
rate-limited and only needed when the commands change. The bot asks for no privileged intent; interactions reach
it whatever its intents, and message content is not needed for commands.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TypeVar

import aiohttp
import discord
import redis.asyncio as aioredis
import yarl
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordSettings
from bot.discord.api_metrics import api_trace
from bot.discord.chat import PLATFORM
from bot.discord.cogs import EXTENSIONS
from bot.discord.interactions import InteractionStore
from bot.discord.outbox import DiscordOutbox
from bot.discord.translator import TextsTranslator
from bot.results import ResultListener
from core.config import ConfigError
from handlers.service import Molbert

log = logging.getLogger(__name__)

# discord.py logs request URLs (at DEBUG, and in rate-limit warnings); interaction and webhook URLs hold tokens
_TOKEN_IN_URL = re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?]+")
_Part = TypeVar("_Part")
_LIBRARY_LOGGERS = ("discord.http", "discord.webhook.async_", "discord.gateway", "discord.state", "discord.client")


class MolbertBot(commands.Bot):
    """Molbert on Discord. ``molbert``/``results`` are ``None`` only for syncing commands (no Redis needed)."""

    def __init__(self, molbert: Molbert | None, results: aioredis.Redis | None, consumer: str = "main") -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here: no warning about it
        keep_tokens_out_of_logs()
        super().__init__(
            command_prefix=commands.when_mentioned,  # no text commands: slash commands and buttons only
            help_command=None,
            intents=discord.Intents(guilds=True),  # channels and upload limits; no privileged intent
            allowed_mentions=discord.AllowedMentions.none(),  # prompts are user text: "@everyone" stays text
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
            http_trace=api_trace(),  # counts 429s and errors for /metrics (bot/discord/api_metrics.py)
        )
        self._molbert = molbert
        self._interactions: InteractionStore | None = None
        self._outbox: DiscordOutbox | None = None
        self.listener: ResultListener | None = None
        if results is not None:
            self._interactions = InteractionStore(results)
            self._outbox = DiscordOutbox(self, self._interactions)
            classes = molbert.classes if molbert is not None else None
            self.listener = ResultListener(results, PLATFORM, self._outbox, consumer=consumer, classes=classes)
        self._listener_task: asyncio.Task[None] | None = None

    # Narrowed once here: only a bot built to sync commands lacks them, and it never handles an interaction.
    @property
    def molbert(self) -> Molbert:
        """The service the cogs call."""
        return _serving(self._molbert, "molbert")

    @property
    def interactions(self) -> InteractionStore:
        """Where interaction tokens are kept for later deliveries."""
        return _serving(self._interactions, "interactions")

    @property
    def outbox(self) -> DiscordOutbox:
        """How the cogs answer."""
        return _serving(self._outbox, "outbox")

    async def setup_hook(self) -> None:
        """After logging in: the translator, the cogs, and (when serving) the result listener."""
        await self.tree.set_translator(TextsTranslator())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.listener is not None:
            self._listener_task = asyncio.create_task(self.listener.run(), name="discord-results")

    async def close(self) -> None:
        """Stop delivering (between two deliveries), then disconnect."""
        if self.listener is not None and self._listener_task is not None:
            self.listener.stop()
            await asyncio.gather(self._listener_task, return_exceptions=True)
            self._listener_task = None
        await super().close()


def use_api(settings: DiscordSettings) -> None:
    """Point discord.py's REST client at ``DISCORD_API_URL`` (a proxy, or a fake Discord in tests)."""
    if settings.api_url is not None:
        discord.http.Route.BASE = str(settings.api_url).rstrip("/")


async def use_gateway_of_api(bot: discord.Client) -> None:
    """With ``DISCORD_API_URL`` set, connect to the gateway that API names (``GET /gateway/bot``)."""
    _shards, url, _limits = await bot.http.get_bot_gateway()
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


class RedactTokens(logging.Filter):
    """Replace interaction and webhook tokens in discord.py's log lines with ``<token>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record if it holds a token; never drop it."""
        message = record.getMessage()
        redacted = _TOKEN_IN_URL.sub(r"\1<token>", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def keep_tokens_out_of_logs() -> None:
    """Redact tokens in discord.py's request logs; keep its payload dumps (DEBUG) off even at BOT_LOG_LEVEL=DEBUG."""
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


async def log_in(bot: discord.Client, settings: DiscordSettings, *, retry: bool = True) -> None:
    """Log in (``GET /users/@me``), retried while Discord is unreachable; a rejected token is a configuration error."""
    assert settings.token is not None, "the Discord frontend starts only with DISCORD_TOKEN set"
    delay = 1.0
    while True:
        try:
            await bot.login(settings.token.get_secret_value())
            return
        except discord.LoginFailure:
            raise ConfigError("DISCORD_TOKEN", "Discord rejected this token (Unauthorized)") from None
        except (aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
            if not retry:
                raise
            log.warning("cannot reach Discord (%s); retrying in %.0f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def _serving(part: _Part | None, name: str) -> _Part:
    """``part``, which a bot built only to sync commands (``MolbertBot(None, None)``) does not have."""
    if part is None:
        raise RuntimeError(f"this bot was built to sync commands and has no {name}")
    return part


async def run_discord(settings: DiscordSettings, molbert: Molbert, results: aioredis.Redis, consumer: str) -> None:
    """Serve Discord (gateway events, result delivery) until cancelled."""
    use_api(settings)
    bot = MolbertBot(molbert, results, consumer=consumer)
    async with bot:
        await log_in(bot, settings)
        if settings.api_url is not None:
            await use_gateway_of_api(bot)
        log.info("Discord frontend started as %s (application %s)", bot.user, bot.application_id)
        await bot.connect(reconnect=True)


async def sync_commands(settings: DiscordSettings, guild_id: int | None = None) -> list[app_commands.AppCommand]:
    """Register the slash commands and the context menu with Discord: globally, or in one guild (instant)."""
    use_api(settings)
    bot = MolbertBot(None, None)
    try:
        async with bot:
            await log_in(bot, settings, retry=False)
            if guild_id is None:
                return await bot.tree.sync()
            guild = discord.Object(guild_id)
            bot.tree.copy_global_to(guild=guild)
            return await bot.tree.sync(guild=guild)
    except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
        raise SystemExit(f"could not sync the Discord commands: {type(exc).__name__}: {exc}") from None
