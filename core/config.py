"""Settings from the environment (and an optional ``.env`` file), split by prefix like the variables.

Each group reads only its own variables, so a frontend never needs worker settings and vice versa.
A missing or malformed value stops the process with one line naming the variable and never its value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, TypeVar

from dotenv import dotenv_values
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

from core.connection import SENTINEL_SCHEMES, is_sentinel_url, parse_sentinel_url
from handlers.access import AccessPolicy, parse_ids
from handlers.limits import LimitPolicy
from handlers.routing import GeneratorRoutes

_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_DISCORD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", *SENTINEL_SCHEMES)
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


ENV_FILE = ".env"
LIBRARY_VARIABLES = ("HF_",)  # read by libraries from the environment themselves (huggingface_hub)


def _config(prefix: str) -> SettingsConfigDict:
    # env_ignore_empty: `REDIS_URL=` in a .env copied from the example means "unset", not "empty string"
    return SettingsConfigDict(env_prefix=prefix, env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)


def export_library_variables(env_file: str | Path = ENV_FILE) -> None:
    """Put the ``.env`` variables that libraries read from the environment (``HF_HOME``, ``HF_HUB_OFFLINE``…)
    into it, as compose does; a variable already set wins. Call before those libraries are imported. Molbert's
    own settings (tokens included) are read by pydantic-settings and stay out of the environment."""
    for name, value in dotenv_values(env_file).items():
        if name.startswith(LIBRARY_VARIABLES) and value:
            os.environ.setdefault(name, value)


class TelegramSettings(BaseSettings):
    """``TELEGRAM_*``: the Telegram frontend."""

    model_config = _config("TELEGRAM_")

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


class DiscordSettings(BaseSettings):
    """``DISCORD_*``: the Discord frontend."""

    model_config = _config("DISCORD_")

    token: SecretStr | None = Field(None, description="bot token; unset = no Discord frontend")
    api_url: AnyHttpUrl | None = Field(None, description="REST API base URL with the version, e.g. a proxy or a fake")

    @field_validator("token")
    @classmethod
    def _discord_token_shape(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not _DISCORD_TOKEN.match(token.get_secret_value()):
            raise ValueError("does not look like a bot token from the Developer Portal (three dot-separated parts)")
        return token


def _parses(url: str) -> bool:
    """Whether redis-py can read ``url`` (its own error would quote the URL, password included)."""
    try:
        parse_url(url)
    except ValueError:
        return False
    return True


class RedisSettings(BaseSettings):
    """``REDIS_URL``: the shared queue. Unset on the bot = one-machine mode with an embedded Redis."""

    model_config = _config("REDIS_")

    url: SecretStr | None = Field(
        None, description="redis://[:password@]host:port/db, rediss://…, unix://… or redis+sentinel://…"
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: SecretStr | None) -> SecretStr | None:
        if url is None:
            return url
        value = url.get_secret_value()
        if not value.startswith(_REDIS_SCHEMES):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        if is_sentinel_url(value):
            parse_sentinel_url(value)  # its ValueError names the problem, never the URL
        elif not _parses(value):
            raise ValueError("is malformed (a password with / # ? @ or % must be percent-encoded: / is %2F)")
        return url


class ModelSettings(BaseSettings):
    """``MODEL_*``: which models a worker loads and where it keeps files it builds."""

    model_config = _config("MODEL_")

    preset: str = Field("auto", description="auto, cpu, tiny (offline, random weights), quality, compact or fast")
    cache_dir: Path = Field(Path.home() / ".cache" / "molbert", description="tiny models and caches")
    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    generator: str | None = Field(None, description="diffusers hub id or local dir; replaces the preset's")
    translator: str | None = Field(None, description="MarianMT ru→en hub id or local dir; default opus-mt-ru-en")
    classifier: str | None = Field(None, description="zero-shot classifier hub id or local dir; default: ruCLIP")
    small_models_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="classifier and translator weights; auto: the generator's (bf16/fp16 on a GPU)"
    )
    compile: bool = Field(False, description="torch.compile the denoiser: slow first images, faster after")
    cpu_offload: Literal["auto", "none", "model", "sequential"] = Field(
        "auto", description="keep weights in CPU memory; auto: model offload only where the preset needs it to fit"
    )
    vae_tiling: Literal["auto", "on", "off"] = Field("auto", description="tiled VAE decoding; auto: above ~1.5 MP")
    channels_last: Literal["auto", "on", "off"] = Field(
        "auto", description="channels-last UNet and VAE; auto: on for CUDA with a UNet denoiser"
    )
    warmup: bool = Field(True, description="paint one throwaway picture at start, before taking jobs")
    # --- on the CPU (the `cpu` preset, issue #24) ---
    cpu_dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="the generator's dtype on the CPU; bfloat16: half the RAM, faster with AVX-512 BF16"
    )
    threads: int = Field(0, ge=0, le=1024, description="torch CPU threads; 0: the CPUs this process may use")

    @field_validator("cache_dir")
    @classmethod
    def _home(cls, path: Path) -> Path:
        return path.expanduser()  # `~/models` written in .env

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, name: str) -> str:
        from models.presets import PRESETS  # cheap: the preset table imports no torch

        names = ("auto", *PRESETS)
        if name not in names:
            raise ValueError(f"unknown preset; choose one of: {', '.join(names)}")
        return name


class WorkerSettings(BaseSettings):
    """``WORKER_*``: the RQ worker process."""

    model_config = _config("WORKER_")

    queues: str = Field("", description="comma-separated queue names; empty = classification, then generation")
    name: str | None = Field(None, description="worker name in RQ; default: a random id")
    batch_size: int = Field(8, ge=1, le=256, description="classification jobs scored in one forward pass, at most")
    metrics_port: int = Field(9102, ge=0, le=65535, description="/metrics and /healthz port; 0 = off")
    malloc_keep_mb: int = Field(
        1024, ge=0, le=2047, description="freed host memory blocks up to this size stay for reuse; 0 = glibc's way"
    )


class BotSettings(BaseSettings):
    """``BOT_*``: the frontend process."""

    model_config = _config("BOT_")

    data_dir: Path = Field(Path("data"), description="embedded Redis files and console results")
    instance: str = Field("main", description="result-stream consumer name; unique per frontend replica")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_port: int = Field(9101, ge=0, le=65535, description="/metrics and /healthz port; 0 = off")
    generators: str = Field(
        "", description="name=queue pairs users pick with --model, the first the default; empty = molbert-generate"
    )

    @field_validator("generators")
    @classmethod
    def _routes(cls, text: str) -> str:
        GeneratorRoutes.parse(text)  # its ValueError says what is wrong
        return text

    def routes(self) -> GeneratorRoutes:
        """The generator queues as ``handlers.routing`` takes them."""
        return GeneratorRoutes.parse(self.generators)


class LogSettings(BaseSettings):
    """``LOG_*``: the log lines of every process (the bot and the workers)."""

    model_config = _config("LOG_")

    format: Literal["text", "json"] = Field("text", description="text: readable lines; json: one JSON object a line")
    user_key: SecretStr | None = Field(None, description="key of the user-id hash in logs; same in every process")

    def apply(self, level: str | None = None) -> None:
        """Format the root logger's lines (and set its level), and key the user-id hash."""
        from core.telemetry import configure_logging, set_user_key

        configure_logging(self.format, level)
        set_user_key(self.user_key.get_secret_value() if self.user_key else None)


class LimitSettings(BaseSettings):
    """``LIMIT_*``: fair use, checked before anything is queued; 0 switches a limit off."""

    model_config = _config("LIMIT_")

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

    model_config = _config("ACCESS_")

    allow_users: str = Field("", description="only these users (and allowed chats); empty = everyone")
    deny_users: str = Field("", description="never these users")
    allow_chats: str = Field("", description="only these chats (and allowed users); empty = every chat")
    deny_chats: str = Field("", description="never these chats")
    operators: str = Field("", description="user ids that may see /stats")

    def policy(self) -> AccessPolicy:
        """The lists as ``handlers.access`` takes them."""
        return AccessPolicy(**{name: parse_ids(value) for name, value in self.model_dump().items()})


class SafetySettings(BaseSettings):
    """``SAFETY_*``: what the bot refuses to paint and what a worker hides."""

    model_config = _config("SAFETY_")

    blocklist_file: Path | None = Field(None, description="prompt blocklist (one entry per line); default: built in")
    nsfw_threshold: float = Field(0.5, ge=0.0, le=1.0, description="hide an image when its unsafe score is above")
    nsfw_labels: str = Field("", description="comma-separated unsafe labels for the image check; default: built in")
    safe_labels: str = Field("", description="comma-separated safe labels they compete with; default: built in")

    @field_validator("blocklist_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError("no such file")
        return path


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(settings_class: type[SettingsT]) -> SettingsT:
    """Read one settings group, turning a validation error into a one-line :class:`ConfigError`."""
    try:
        return settings_class()
    except ValidationError as exc:
        prefix = settings_class.model_config.get("env_prefix", "")
        problems = "; ".join(
            f"{prefix}{'_'.join(str(part) for part in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"Configuration error: {problems}") from None
