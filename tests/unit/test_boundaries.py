"""Module boundaries and start-up behaviour that users and operators rely on."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.connection import connect, connect_async
from tests.processes import REPO

FRONTEND_MODULES = "bot.__main__, bot.app, bot.local, bot.queue, bot.results, bot.console, bot.telegram.app"
WORKER_MODULES = "workers.__main__, workers.worker, workers.jobs, workers.publish, models.presets"
CORE_MODULES = "core.config, core.connection, core.heap, core.keys, core.protocol, core.telemetry"

TORCH_STACK = {"torch", "diffusers", "transformers", "accelerate"}
PLATFORMS = {"aiogram", "discord"}
# The layers (docs/architecture.md): what each package must never import, lazily or for types only included.
NEVER_IMPORTS = {
    "core": {"bot", "handlers", "workers", "models"},  # shared by both processes, below everything
    "bot": {"workers", "models"} | TORCH_STACK,  # frontends reach workers through Redis only
    "workers": {"bot", "handlers"} | PLATFORMS,  # jobs meet the use cases only through core.protocol
    "handlers": {"bot", "workers", "models"} | PLATFORMS | TORCH_STACK,  # use cases, the same for every platform
    "models": {"bot", "handlers", "workers"} | PLATFORMS,  # models know nothing of chats or queues
}


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file's import statements name, with their lines: at any depth, so a function's lazy import
    and an ``if TYPE_CHECKING:`` one count too. Relative imports stay inside their own package and are skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def forbidden_imports(package: str, root: Path = REPO) -> list[str]:
    """``file:line imports module`` for each import in ``package`` that ``NEVER_IMPORTS`` rules out."""
    never = NEVER_IMPORTS[package]
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path in sorted((root / package).rglob("*.py"))
        for line, module in imports_of(path)
        if module.split(".")[0] in never
    ]


@pytest.mark.parametrize("package", sorted(NEVER_IMPORTS))
def test_each_layer_imports_nothing_it_must_not(package):
    """Read from the source, so an import that only runs on some path (a command, a branch) is caught too."""
    assert forbidden_imports(package) == []


def test_the_import_check_sees_lazy_and_type_only_imports(tmp_path):
    (tmp_path / "core" / "inner").mkdir(parents=True)
    (tmp_path / "core" / "inner" / "x.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from handlers.limits import LimitPolicy\n"
        "def f():\n    import workers.jobs\n    from . import y\n    from core import keys\n"
    )
    assert forbidden_imports("core", tmp_path) == [
        "core/inner/x.py:3 imports handlers.limits",
        "core/inner/x.py:5 imports workers.jobs",
    ]


def imported_after(modules: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after importing ``modules``."""
    code = f"import sys; import {modules}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_frontends_never_import_torch():
    loaded = imported_after(FRONTEND_MODULES)
    assert "aiogram" in loaded
    assert not loaded & {"torch", "diffusers", "transformers", "workers", "models"}


def test_workers_never_import_chat_libraries():
    loaded = imported_after(WORKER_MODULES)
    assert "rq" in loaded
    assert not loaded & {"aiogram", "discord", "bot"}


def test_core_loads_no_other_layer():
    loaded = imported_after(CORE_MODULES)
    assert "pydantic_settings" in loaded
    assert not loaded & {"bot", "handlers", "workers", "models", "aiogram", "discord", "torch"}


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
