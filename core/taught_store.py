"""A chat's taught classes (``/teach``) in the database, and the queries on them (SQLAlchemy Core, async).

One table (migration ``0002_taught_classes``): ``taught_classes``, a row per chat and casefolded class name —
the name as the chat wrote it, the class's vector (float32 bytes, ``core.feedback_store.pack``: for format 2 its
photos' mean embedding, the name's text embedding being the classifier's to make), how many photos it came from,
the model that made it, the vector's format and when it was taught. Chats are ``<platform>`` + the chat id that
keeps a chat's settings (a Discord thread shares its channel's). Kept until forgotten (``/forget_class``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, LargeBinary, SmallInteger, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from core.feedback_store import metadata, pack, unpack

taught_classes = Table(
    "taught_classes",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("chat_id", String(120), primary_key=True),
    Column("name_key", String(160), primary_key=True),  # the name casefolded: one class per name and chat
    Column("name", String(80), nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("shots", Integer, nullable=False),
    Column("model", String(200)),
    Column("version", SmallInteger, nullable=False),  # what the vector is: models.classifier.TAUGHT_VERSION
    Column("taught_at", Float, nullable=False),
)


@dataclass(frozen=True)
class StoredClass:
    """A row of ``taught_classes`` as the store returns it."""

    name: str
    vector: tuple[float, ...]
    shots: int
    taught_at: float
    model: str | None = None
    version: int = 1


class TaughtClassQueries:
    """The queries, on an engine whose schema :func:`core.database.migrate` brought up to date."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def classes(self, platform: str, chat_id: str) -> list[StoredClass]:
        """The chat's classes, oldest first."""
        query = (
            select(taught_classes)
            .where(taught_classes.c.platform == platform, taught_classes.c.chat_id == chat_id)
            .order_by(taught_classes.c.taught_at, taught_classes.c.name_key)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            StoredClass(row.name, unpack(row.embedding), row.shots, row.taught_at, row.model, row.version)
            for row in rows
        ]

    async def add(self, platform: str, chat_id: str, stored: Sequence[StoredClass]) -> int:
        """Store ``stored`` (each replacing the chat's class of the same casefolded name) in one transaction;
        return how many replaced one."""
        if not stored:
            return 0
        keys = [item.name.casefold() for item in stored]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(taught_classes)
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "chat_id", "name_key"],
            set_={column: statement.excluded[column] for column in _REPLACED},
        )
        async with self.engine.begin() as connection:
            existing = await connection.execute(
                select(taught_classes.c.name_key).where(
                    taught_classes.c.platform == platform,
                    taught_classes.c.chat_id == chat_id,
                    taught_classes.c.name_key.in_(keys),
                )
            )
            replaced = len(existing.all())
            rows = [_row(platform, chat_id, key, item) for key, item in dict(zip(keys, stored, strict=True)).items()]
            await connection.execute(statement, rows)
        return replaced

    async def import_missing(self, platform: str, chat_id: str, stored: Sequence[StoredClass]) -> int:
        """Store those of ``stored`` the chat has no class of the same name for (the one-time move from Redis:
        a class taught since, in the database, wins); return how many were added."""
        rows = [_row(platform, chat_id, item.name.casefold(), item) for item in stored]
        rows = list({row["name_key"]: row for row in rows}.values())
        if not rows:
            return 0
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        async with self.engine.begin() as connection:
            existing = await connection.execute(
                select(taught_classes.c.name_key).where(
                    taught_classes.c.platform == platform,
                    taught_classes.c.chat_id == chat_id,
                    taught_classes.c.name_key.in_([row["name_key"] for row in rows]),
                )
            )
            known = {key for (key,) in existing}
            await connection.execute(dialect.insert(taught_classes).on_conflict_do_nothing(), rows)
        return len([row for row in rows if row["name_key"] not in known])

    async def remove(self, platform: str, chat_id: str, name: str) -> bool:
        """Forget the chat's class named ``name`` (casefolded); whether there was one."""
        async with self.engine.begin() as connection:
            gone = await connection.execute(
                delete(taught_classes).where(
                    taught_classes.c.platform == platform,
                    taught_classes.c.chat_id == chat_id,
                    taught_classes.c.name_key == name.casefold(),
                )
            )
        return bool(gone.rowcount)


_REPLACED = ("name", "embedding", "shots", "model", "version", "taught_at")


def _row(platform: str, chat_id: str, key: str, item: StoredClass) -> dict[str, object]:
    return {
        "platform": platform,
        "chat_id": chat_id,
        "name_key": key,
        "name": item.name,
        "embedding": pack(item.vector),
        "shots": item.shots,
        "model": item.model,
        "version": item.version,
        "taught_at": item.taught_at,
    }
