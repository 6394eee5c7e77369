"""Settings from the environment (and an optional ``.env`` file), split by prefix like the variables.

This module holds what both processes read (``REDIS_*``, ``LOG_*``, ``SAFETY_*``) and the machinery every settings
group uses; the frontend's own groups live in ``bot/config.py``, a worker's in ``workers/config.py``. Each process
builds one :class:`ProcessConfig` in its ``__main__`` and passes it down. A missing or malformed value stops the
process with one line naming the variable and never its value (:class:`ConfigError`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

from core.connection import SENTINEL_SCHEMES, is_sentinel_url, parse_sentinel_url

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", *SENTINEL_SCHEMES)


ENV_FILE = ".env"
LIBRARY_VARIABLES = ("HF_",)  # read by libraries from the environment themselves (huggingface_hub)


def settings_config(prefix: str) -> SettingsConfigDict:
    """The configuration of a settings group reading the variables named ``<prefix><FIELD>``."""
    # env_ignore_empty: `REDIS_URL=` in a .env copied from the example means "unset", not "empty string"
    return SettingsConfigDict(env_prefix=prefix, env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)


def export_library_variables(env_file: str | Path = ENV_FILE) -> None:
    """Put the ``.env`` variables that libraries read from the environment (``HF_HOME``, ``HF_HUB_OFFLINE``…)
    into it, as compose does; a variable already set wins. Call before those libraries are imported. Molbert's
    own settings (tokens included) are read by pydantic-settings and stay out of the environment."""
    for name, value in dotenv_values(env_file).items():
        if name.startswith(LIBRARY_VARIABLES) and value:
            os.environ.setdefault(name, value)


def _parses(url: str) -> bool:
    """Whether redis-py can read ``url`` (its own error would quote the URL, password included)."""
    try:
        parse_url(url)
    except ValueError:
        return False
    return True


class RedisSettings(BaseSettings):
    """``REDIS_URL``: the shared queue. Unset on the bot = one-machine mode with an embedded Redis."""

    model_config = settings_config("REDIS_")

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


class LogSettings(BaseSettings):
    """``LOG_*``: the log lines of every process (the bot and the workers)."""

    model_config = settings_config("LOG_")

    format: Literal["text", "json"] = Field("text", description="text: readable lines; json: one JSON object a line")
    user_key: SecretStr | None = Field(None, description="key of the user-id hash in logs; same in every process")

    def apply(self, level: str | None = None) -> None:
        """Format the root logger's lines (and set its level), and key the user-id hash."""
        from core.telemetry import configure_logging, set_user_key

        configure_logging(self.format, level)
        set_user_key(self.user_key.get_secret_value() if self.user_key else None)


class SafetySettings(BaseSettings):
    """``SAFETY_*``: what the bot refuses to paint and what a worker hides."""

    model_config = settings_config("SAFETY_")

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
    """A setting is missing, malformed or at odds with another: the message says which variable and why, never
    its value (``Configuration error: REDIS_URL: required for a worker``). Every such message is formatted here."""

    def __init__(self, variable: str, why: str, *more: tuple[str, str]) -> None:
        self.problems = ((variable, why), *more)
        super().__init__("Configuration error: " + "; ".join(f"{name}: {reason}" for name, reason in self.problems))

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> ConfigError:
        """One error for all that pydantic found, each named by its variable (``prefix`` + field, upper-cased, or
        the variable a :func:`config_rule` names)."""
        problems = [(_variable(err, prefix), err["msg"]) for err in exc.errors(include_input=False, include_url=False)]
        return cls(*problems[0], *problems[1:])


def _variable(err: ErrorDetails, prefix: str) -> str:
    named = (err.get("ctx") or {}).get("variable")
    return str(named) if named else f"{prefix}{'_'.join(str(part) for part in err['loc']).upper()}"


def config_rule(variable: str, why: str) -> PydanticCustomError:
    """The error a validator raises for a rule across fields, so that :class:`ConfigError` names ``variable``
    (a model validator's error has no field to name by itself)."""
    return PydanticCustomError("config", why, {"variable": variable})


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(settings_class: type[SettingsT]) -> SettingsT:
    """Read one settings group, turning a validation error into a one-line :class:`ConfigError`."""
    try:
        return settings_class()
    except ValidationError as exc:
        raise ConfigError.from_validation(exc, settings_class.model_config.get("env_prefix", "")) from None


class ProcessConfig(BaseModel):
    """Every settings group one process reads, loaded once in its ``__main__`` and passed down from there.

    A subclass names each group as a field; rules across groups are its model validators (raising
    :func:`config_rule`).
    """

    model_config = ConfigDict(frozen=True)

    @classmethod
    def load(cls) -> Self:
        """Read each group from the environment (and ``.env``), then check the rules across them."""
        groups: Mapping[str, Any] = {
            name: load(_settings_class(name, field.annotation)) for name, field in cls.model_fields.items()
        }
        try:
            return cls(**groups)
        except ValidationError as exc:
            raise ConfigError.from_validation(exc) from None


def _settings_class(name: str, annotation: Any) -> type[BaseSettings]:
    if not (isinstance(annotation, type) and issubclass(annotation, BaseSettings)):
        raise TypeError(f"{name}: a process config's fields are settings groups, not {annotation!r}")
    return annotation


# --- Feedback database (issue #22) ---------------------------------------------------------------------------------


class DatabaseSettings(BaseSettings):
    """``DATABASE_URL``: where feedback is kept (``core/database.py``). Unset = a SQLite file in ``BOT_DATA_DIR``."""

    model_config = settings_config("DATABASE_")

    url: SecretStr | None = Field(
        None, description="SQLAlchemy URL, e.g. postgresql+psycopg://molbert:pw@postgres/molbert; unset = SQLite"
    )


class FeedbackSettings(BaseSettings):
    """``FEEDBACK_*``: collecting 👍/👎 and U/V/🔄 presses (a chat's ``/settings`` can still turn it off)."""

    model_config = settings_config("FEEDBACK_")

    enabled: bool = Field(True, description="collect feedback at all; false = no 👍/👎 buttons, nothing stored")
    retention_days: int = Field(365, ge=1, description="rows older than this are deleted (checked hourly)")
    buffer: int = Field(10_000, ge=1, description="writes held in memory while the database is away; more are dropped")
