"""The feedback database: an async SQLAlchemy engine from ``DATABASE_URL`` and its schema brought up to date.

SQLite by default (a file in ``BOT_DATA_DIR``: nothing to set up), PostgreSQL for deployments
(``postgresql+psycopg://…``). Redis stays the queue; the database is the memory. The schema is Alembic's
(``core/migrations``), upgraded from code at start (:func:`migrate`), so ``make run`` needs no step of its own.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "molbert.sqlite3"
_UPGRADING = threading.Lock()  # the feedback and the taught-class stores may both upgrade at start: one at a time


def database_url(configured: str | None, data_dir: Path) -> URL:
    """The async URL to use: ``configured`` with its async driver filled in (``postgresql://`` → psycopg,
    ``sqlite://`` → aiosqlite), or a SQLite file in ``data_dir`` when nothing is configured."""
    if not configured:
        data_dir.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite+aiosqlite", database=str(data_dir / SQLITE_FILE))
    url = make_url(configured)
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    return url


def sync_url(url: URL) -> URL:
    """The same database through a synchronous driver, for Alembic (psycopg serves both; SQLite: the stdlib)."""
    return url.set(drivername="sqlite") if url.drivername == "sqlite+aiosqlite" else url


def create_engine(url: URL) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys (cascading deletes) and a busy timeout on every connection."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "sqlite":
        options = {"connect_args": {"timeout": 15}}
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (training) do not block the bot's writes
    cursor.close()


def alembic_config(url: URL) -> Config:
    """Alembic's configuration, built in code: the migrations shipped in the package, the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = sync_url(url)
    return config


def upgrade(url: URL, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` (from an empty database too); blocking. One upgrade at a time in
    the process: two at once would both try to create the same tables."""
    with _UPGRADING:
        command.upgrade(alembic_config(url), revision)


async def migrate(url: URL) -> None:
    """:func:`upgrade` off the event loop (Alembic and the sync drivers block)."""
    await asyncio.to_thread(upgrade, url)
