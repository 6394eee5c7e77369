"""Settings: defaults, empty values, secrets kept out of reprs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import TelegramSettings
from core.config import ConfigError, RedisSettings, load
from workers.config import ModelSettings

TOKEN = "123456:AAE-secret_part_of_the_token_xyz"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "REDIS_URL", "MODEL_PRESET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer .env


def test_empty_values_mean_unset(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("REDIS_URL", "")
    assert load(TelegramSettings).bot_token is None
    assert load(RedisSettings).url is None


def test_secrets_never_show_in_reprs(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@redis:6379/0")
    settings = (load(TelegramSettings), load(RedisSettings))
    text = f"{settings!r} {settings!s}"
    assert "secret_part" not in text and "hunter2" not in text
    assert settings[0].bot_token.get_secret_value() == TOKEN


@pytest.mark.parametrize("password", ["s3cr/etPW", "s3cr#etPW", "s3cr?etPW"])
def test_a_redis_url_that_does_not_parse_is_named_without_its_password(monkeypatch, password):
    monkeypatch.setenv("REDIS_URL", f"redis://:{password}@localhost:6379/0")
    with pytest.raises(ConfigError, match=r"REDIS_URL: .*percent-encoded") as err:
        load(RedisSettings)
    assert "s3cr" not in str(err.value)
    monkeypatch.setenv("REDIS_URL", "redis://:s3cr%2FetPW@localhost:6379/0")  # the same password, encoded
    assert load(RedisSettings).url is not None


def test_library_variables_in_dotenv_reach_the_environment_and_nothing_else(tmp_path, monkeypatch):
    from core.config import export_library_variables

    (tmp_path / ".env").write_text(f"HF_HUB_OFFLINE=1\nHF_HOME=/srv/hf\nTELEGRAM_BOT_TOKEN={TOKEN}\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "")  # so that the teardown takes away what the export sets
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_HOME", "/mine")  # set by the operator: it wins
    export_library_variables()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_HOME"] == "/mine"
    assert "TELEGRAM_BOT_TOKEN" not in os.environ


def test_a_model_cache_dir_under_home_is_expanded(monkeypatch):
    monkeypatch.setenv("MODEL_CACHE_DIR", "~/models")
    assert load(ModelSettings).cache_dir == Path.home() / "models"


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nMODEL_PRESET=tiny\n")
    assert load(TelegramSettings).bot_token.get_secret_value() == TOKEN
    assert load(ModelSettings).preset == "tiny"


def test_unknown_preset_names_the_choices(monkeypatch):
    monkeypatch.setenv("MODEL_PRESET", "huge")
    with pytest.raises(ConfigError, match=r"MODEL_PRESET: .*auto, tiny, cpu, quality, compact, fast"):
        load(ModelSettings)


def test_a_webhook_url_without_its_secret_is_refused_when_the_settings_are_read(monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://molbert.example.test/hook")
    with pytest.raises(ConfigError) as err:
        load(TelegramSettings)
    assert str(err.value) == "Configuration error: TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_WEBHOOK_URL is set"
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "webhook-Secret_0123456789")
    assert load(TelegramSettings).webhook_secret is not None


def test_a_worker_config_needs_redis_and_a_bot_config_does_not(monkeypatch):
    from bot.config import BotConfig
    from workers.config import WorkerConfig

    with pytest.raises(ConfigError) as err:
        WorkerConfig.load()
    assert str(err.value) == "Configuration error: REDIS_URL: required for a worker (redis://host:6379/0)"
    assert BotConfig.load().redis.url is None  # one-machine mode: the bot starts an embedded Redis
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setenv("MODEL_PRESET", "tiny")
    assert WorkerConfig.load().model.preset == "tiny"


def test_a_process_config_names_the_variable_of_the_group_that_failed(monkeypatch):
    from bot.config import BotConfig

    monkeypatch.setenv("LIMIT_PER_USER_PER_DAY", "-1")
    with pytest.raises(ConfigError, match=r"^Configuration error: LIMIT_PER_USER_PER_DAY: .*greater than or equal"):
        BotConfig.load()


def test_a_config_error_lists_each_variable_and_why():
    error = ConfigError("REDIS_URL", "required for a worker", ("MODEL_PRESET", "unknown preset"))
    assert str(error) == "Configuration error: REDIS_URL: required for a worker; MODEL_PRESET: unknown preset"
    assert error.problems == (("REDIS_URL", "required for a worker"), ("MODEL_PRESET", "unknown preset"))
