"""Module boundaries and start-up behaviour that users and operators rely on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.connection import connect, connect_async
from tests.processes import REPO

FRONTEND_MODULES = "bot.__main__, bot.app, bot.local, bot.queue, bot.results, bot.console, bot.telegram.app"
WORKER_MODULES = "workers.__main__, workers.worker, workers.jobs, workers.publish, models.presets"


def imported_after(modules: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing ``modules``."""
    code = f"import sys; import {modules}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_frontends_never_import_torch():
    loaded = imported_after(FRONTEND_MODULES)
    assert "aiogram" in loaded
    assert not loaded & {"torch", "diffusers", "transformers"}


def test_workers_never_import_chat_libraries():
    loaded = imported_after(WORKER_MODULES)
    assert "rq" in loaded
    assert not loaded & {"aiogram", "discord"}


def test_handlers_import_no_platform_and_no_torch():
    loaded = imported_after("handlers.service, handlers.delivery, core.protocol")
    assert not loaded & {"aiogram", "discord", "torch", "diffusers", "transformers"}


def test_redis_commands_are_packed_and_parsed_in_c():
    """``redis[hiredis]``: without it redis-py packs and parses in Python, about a third more CPU per queued job."""
    sync = connect("redis://localhost:6379/0").connection_pool.make_connection()
    assert (type(sync._parser).__name__, type(sync._command_packer).__name__) == (
        "_HiredisParser",
        "HiredisRespSerializer",
    )
    results = connect_async("redis://localhost:6379/0").connection_pool.make_connection()
    assert type(results._parser).__name__ == "_AsyncHiredisParser"


def test_start_up_objects_are_set_aside_from_garbage_collection():
    """``settle_startup_heap`` (called as the frontends start, and in a worker before it serves): full
    collections no longer walk what start-up imported, which stopped the bot's loop for 100–260 ms mid-burst."""
    code = (
        "import gc; import " + FRONTEND_MODULES + ", bot.discord.app; from core.heap import settle_startup_heap; "
        "tracked = len(gc.get_objects()); frozen = settle_startup_heap(); print(tracked, frozen, len(gc.get_objects()))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    tracked, frozen, still_tracked = map(int, out.stdout.split())
    assert frozen > 0.9 * tracked
    assert still_tracked < 0.01 * frozen


def run(module: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    scrubbed = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "REDIS_", "MODEL_"))}
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**scrubbed, "PYTHONPATH": str(REPO), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("module", "env", "variable"),
    [
        ("bot", {"TELEGRAM_BOT_TOKEN": "not-a-token-but-a-secret-value"}, "TELEGRAM_BOT_TOKEN"),
        (
            "bot",
            {"TELEGRAM_BOT_TOKEN": "123456:abcdefghijklmnopqrstuvwxyz", "TELEGRAM_API_URL": "ftp:x"},
            "TELEGRAM_API_URL",
        ),
        ("bot", {"REDIS_URL": "http://user:hunter2-secret@host"}, "REDIS_URL"),
        ("workers", {}, "REDIS_URL"),
        ("workers", {"REDIS_URL": "redis://localhost:1", "MODEL_PRESET": "huge"}, "MODEL_PRESET"),
    ],
    ids=["bad-token", "bad-api-url", "bad-redis-url", "worker-without-redis", "unknown-preset"],
)
def test_bad_settings_stop_with_one_line_naming_the_variable(module, env, variable, tmp_path):
    result = run(module, env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: {variable}")
    for value in env.values():
        if "secret" in value:
            assert value not in result.stderr and "hunter2" not in result.stderr
