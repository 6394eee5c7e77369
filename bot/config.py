"""The frontend process's settings (``TELEGRAM_*``, ``DISCORD_*``, ``BOT_*``, ``LIMIT_*``, ``ACCESS_*``) and
:class:`BotConfig`, every group it reads, built once by ``python -m bot``.

The groups a worker reads too (``REDIS_*``, ``LOG_*``, ``SAFETY_*``) live in ``core/config.py``; the policies of
``handlers`` are built here, where both layers may be imported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings

from core.config import (
    DatabaseSettings,
    FeedbackSettings,
    LogSettings,
    ProcessConfig,
    RedisSettings,
    SafetySettings,
    config_rule,
    settings_config,
)
from handlers.access import AccessPolicy, parse_ids
from handlers.limits import LimitPolicy
from handlers.routing import GeneratorRoutes

_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_DISCORD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramSettings(BaseSettings):
    """``TELEGRAM_*``: the Telegram frontend."""

    model_config = settings_config("TELEGRAM_")

    bot_token: SecretStr | None = Field(None, description="token from @BotFather; unset = no Telegram frontend")
    api_url: AnyHttpUrl | None = Field(None, description="Bot API base URL, e.g. a local Bot API server")
    webhook_url: AnyHttpUrl | None = Field(None, description="public URL Telegram posts updates to; unset = polling")
    webhook_secret: SecretStr | None = Field(None, description="X-Telegram-Bot-Api-Secret-Token; webhook mode needs it")
    webhook_path: str | None = Field(None, description="path the webhook server listens on; default: the URL's")
    webhook_host: str = Field("0.0.0.0", description="address the webhook server binds")
    webhook_port: int = Field(8080, ge=1, le=65535, description="port the webhook server listens on")

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not _TELEGRAM_TOKEN.match(token.get_secret_value()):
            raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
        return token

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not _WEBHOOK_SECRET.match(secret.get_secret_value()):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)")
        return secret

    @field_validator("webhook_path")
    @classmethod
    def _absolute_path(cls, path: str | None) -> str | None:
        if path is not None and not path.startswith("/"):
            raise ValueError("must start with /")
        return path

    @model_validator(mode="after")
    def _webhook_needs_its_secret(self) -> Self:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise config_rule("TELEGRAM_WEBHOOK_SECRET", "required when TELEGRAM_WEBHOOK_URL is set")
        return self


class DiscordSettings(BaseSettings):
    """``DISCORD_*``: the Discord frontend."""

    model_config = settings_config("DISCORD_")

    token: SecretStr | None = Field(None, description="bot token; unset = no Discord frontend")
    api_url: AnyHttpUrl | None = Field(None, description="REST API base URL with the version, e.g. a proxy or a fake")

    @field_validator("token")
    @classmethod
    def _discord_token_shape(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not _DISCORD_TOKEN.match(token.get_secret_value()):
            raise ValueError("does not look like a bot token from the Developer Portal (three dot-separated parts)")
        return token


class BotSettings(BaseSettings):
    """``BOT_*``: the frontend process."""

    model_config = settings_config("BOT_")

    data_dir: Path = Field(Path("data"), description="embedded Redis files and console results")
    instance: str = Field("main", description="result-stream consumer name; unique per frontend replica")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_port: int = Field(9101, ge=0, le=65535, description="/metrics and /healthz port; 0 = off")
    generators: str = Field(
        "", description="name=queue pairs users pick with --model, the first the default; empty = molbert-generate"
    )
    default_images: int | None = Field(
        None, ge=1, le=4, description="pictures per /imagine without --n; unset = the worker's generator's default"
    )

    text_only_generators: str = Field(
        "", description="names of BOT_GENERATORS that cannot paint from a photo (Kandinsky 5 Image Lite)"
    )

    @field_validator("generators")
    @classmethod
    def _routes(cls, text: str) -> str:
        GeneratorRoutes.parse(text)  # its ValueError says what is wrong
        return text

    @field_validator("text_only_generators")
    @classmethod
    def _text_only(cls, text: str, info: ValidationInfo) -> str:
        GeneratorRoutes.parse(info.data.get("generators", ""), text)  # a name the table lacks is an error
        return text

    def routes(self) -> GeneratorRoutes:
        """The generator queues as ``handlers.routing`` takes them."""
        return GeneratorRoutes.parse(self.generators, self.text_only_generators)


class LimitSettings(BaseSettings):
    """``LIMIT_*``: fair use, checked before anything is queued; 0 switches a limit off."""

    model_config = settings_config("LIMIT_")

    concurrent_per_user: int = Field(2, ge=0, description="jobs one user may have waiting or running")
    per_user_per_minute: int = Field(6, ge=0, description="jobs one user may start a minute")
    per_user_per_day: int = Field(200, ge=0, description="jobs one user may start a day (UTC)")
    per_chat_per_minute: int = Field(20, ge=0, description="jobs one chat may start a minute")
    max_queue_length: int = Field(100, ge=0, description="refuse new jobs while a queue is this long")

    def policy(self) -> LimitPolicy:
        """The limits as ``handlers.limits`` takes them."""
        return LimitPolicy(**self.model_dump())


class AccessSettings(BaseSettings):
    """``ACCESS_*``: who may use the bot (comma-separated ids; ``telegram:123`` names the platform too)."""

    model_config = settings_config("ACCESS_")

    allow_users: str = Field("", description="only these users (and allowed chats); empty = everyone")
    deny_users: str = Field("", description="never these users")
    allow_chats: str = Field("", description="only these chats (and allowed users); empty = every chat")
    deny_chats: str = Field("", description="never these chats")
    operators: str = Field("", description="user ids that may see /stats")

    def policy(self) -> AccessPolicy:
        """The lists as ``handlers.access`` takes them."""
        return AccessPolicy(**{name: parse_ids(value) for name, value in self.model_dump().items()})


class BotConfig(ProcessConfig):
    """Everything the frontend process reads, loaded once by ``python -m bot``."""

    bot: BotSettings
    redis: RedisSettings
    log: LogSettings
    telegram: TelegramSettings
    discord: DiscordSettings
    limits: LimitSettings
    access: AccessSettings
    safety: SafetySettings
    database: DatabaseSettings  # the feedback database (issue #22)
    feedback: FeedbackSettings
