"""What Molbert keeps of its chats' feedback, and the queries on it (SQLAlchemy Core, async).

Four tables (``core/migrations`` creates them): ``feedback_results`` (a result someone reacted to: its request —
prompt, options, model — and the text embedding of its prompt), ``feedback_candidates`` (each picture's image
embedding), ``feedback_votes`` (👍/👎: one per user and result, changeable) and ``feedback_choices`` (U, V and 🔄
presses, and ⤴ / 🔍 under the U image of a cell: the implicit preferences the re-ranker learns from). Users are
kept as ``core.telemetry.hash_user`` hashes, chats as ``<platform>:<chat id>``; times are unix seconds. Embeddings
are float32 bytes.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.preferences import Preference

metadata = MetaData()

results = Table(
    "feedback_results",
    metadata,
    Column("job_id", String(80), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("chat_key", String(120), nullable=False),
    Column("user_hash", String(32), nullable=False),  # who asked for it
    Column("kind", String(16), nullable=False),  # imagine, classify
    Column("model", String(200)),
    Column("request", Text, nullable=False),  # JSON: prompt and options, or the labels answered
    Column("prompt_embedding", LargeBinary),
    Column("at", Float, nullable=False),
    Index("ix_feedback_results_user", "platform", "user_hash"),
    Index("ix_feedback_results_at", "at"),
)
candidates = Table(
    "feedback_candidates",
    metadata,
    Column("job_id", String(80), ForeignKey("feedback_results.job_id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("embedding", LargeBinary, nullable=False),
)
votes = Table(
    "feedback_votes",
    metadata,
    Column("job_id", String(80), ForeignKey("feedback_results.job_id", ondelete="CASCADE"), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("user_hash", String(32), primary_key=True),
    Column("chat_key", String(120), nullable=False),
    Column("value", SmallInteger, nullable=False),  # +1 👍, -1 👎
    Column("at", Float, nullable=False),
    Index("ix_feedback_votes_user", "platform", "user_hash"),
    Index("ix_feedback_votes_at", "at"),
)
choices = Table(
    "feedback_choices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(80), ForeignKey("feedback_results.job_id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("user_hash", String(32), nullable=False),
    Column("chat_key", String(120), nullable=False),
    Column("verb", String(8), nullable=False),  # u, v, r; s (⤴) and z (🔍, arrows) under a U image
    Column("chosen", Integer),  # the picture pressed; NULL for 🔄 (none of them)
    Column("at", Float, nullable=False),
    Index("ix_feedback_choices_user", "platform", "user_hash"),
    Index("ix_feedback_choices_at", "at"),
    Index("ix_feedback_choices_job", "job_id"),
)
REJECTING_VERBS = frozenset({"r"})  # a press that says "none of these"
# presses that say "this one": U, V, and ⤴ (s) / 🔍 and the arrows (z) under the U image of a cell (or a one-picture
# result, which has no candidates to beat and is left out); a verb in neither set is no preference
CHOOSING_VERBS = frozenset({"u", "v", "s", "z"})


@dataclass(frozen=True)
class ResultRecord:
    """A result as first reacted to: who asked, what (``request``), and the embeddings of its candidates."""

    job_id: str
    platform: str
    chat_key: str
    user_hash: str
    kind: str
    model: str | None
    request: dict[str, Any]
    at: float
    prompt_embedding: tuple[float, ...] | None = None
    image_embeddings: tuple[tuple[float, ...], ...] = ()


@dataclass(frozen=True)
class Vote:
    """👍 (``+1``) or 👎 (``-1``) by one user on one result; a later vote replaces it."""

    job_id: str
    platform: str
    chat_key: str
    user_hash: str
    value: int
    at: float


@dataclass(frozen=True)
class Choice:
    """A press under a grid: ``verb`` (``u``, ``v``, ``r``; ``s``, ``z`` under a U image) and the picture it chose
    (``None`` for 🔄)."""

    job_id: str
    platform: str
    chat_key: str
    user_hash: str
    verb: str
    chosen: int | None
    at: float


Write = ResultRecord | Vote | Choice


@dataclass
class Counts:
    """Rows per table (tests, the benchmark)."""

    results: int = 0
    candidates: int = 0
    votes: int = 0
    choices: int = 0


def pack(vector: Sequence[float]) -> bytes:
    """An embedding as float32 bytes (half the size of float64, and the precision CLIP has)."""
    return array("f", vector).tobytes()


def unpack(data: bytes) -> tuple[float, ...]:
    """The embedding :func:`pack` stored."""
    values = array("f")
    values.frombytes(data)
    return tuple(values)


class FeedbackStore:
    """The queries, on an engine whose schema :func:`core.database.migrate` brought up to date."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, writes: Sequence[Write]) -> None:
        """Store ``writes`` in one transaction, a statement per table (a batch of a few hundred presses is four
        round trips): a result once (the first record wins), a vote replacing the user's earlier one on that
        result (within ``writes`` too: the last one counts), every choice."""
        records = [item for item in writes if isinstance(item, ResultRecord)]
        latest = {(v.job_id, v.platform, v.user_hash): v for v in writes if isinstance(v, Vote)}
        picks = [_fields(item) for item in writes if isinstance(item, Choice)]
        async with self.engine.begin() as connection:
            if records:
                await connection.execute(
                    self._insert(results).on_conflict_do_nothing(), [_result_row(r) for r in records]
                )
                rows = [
                    {"job_id": record.job_id, "idx": index, "embedding": pack(vector)}
                    for record in records
                    for index, vector in enumerate(record.image_embeddings)
                ]
                if rows:  # the first record's candidates, like its row
                    await connection.execute(self._insert(candidates).on_conflict_do_nothing(), rows)
            if latest:
                statement = self._insert(votes)
                statement = statement.on_conflict_do_update(
                    index_elements=["job_id", "platform", "user_hash"],
                    set_={
                        "value": statement.excluded.value,
                        "at": statement.excluded.at,
                        "chat_key": statement.excluded.chat_key,
                    },
                )
                await connection.execute(statement, [_fields(vote) for vote in latest.values()])
            if picks:
                await connection.execute(choices.insert(), picks)

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (PostgreSQL's and SQLite's share the API)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    async def forget(self, platform: str, user_hash: str) -> int:
        """Delete everything of one user on one platform: their votes, their presses and the results they asked
        for (with everyone's reactions to them). Returns the rows deleted."""
        deleted = 0
        async with self.engine.begin() as connection:
            for table in (votes, choices):
                gone = await connection.execute(
                    delete(table).where(table.c.platform == platform, table.c.user_hash == user_hash)
                )
                deleted += gone.rowcount or 0
            own = select(results.c.job_id).where(results.c.platform == platform, results.c.user_hash == user_hash)
            for table in (votes, choices, candidates):  # not left to ON DELETE CASCADE: SQLite may have it off
                await connection.execute(delete(table).where(table.c.job_id.in_(own)))
            gone = await connection.execute(
                delete(results).where(results.c.platform == platform, results.c.user_hash == user_hash)
            )
            deleted += gone.rowcount or 0
        return deleted

    async def delete_older_than(self, cutoff: float) -> int:
        """The retention period: delete votes, presses and results from before ``cutoff`` (unix seconds)."""
        deleted = 0
        async with self.engine.begin() as connection:
            for table in (votes, choices):
                gone = await connection.execute(delete(table).where(table.c.at < cutoff))
                deleted += gone.rowcount or 0
            old = select(results.c.job_id).where(results.c.at < cutoff)
            for table in (votes, choices, candidates):
                await connection.execute(delete(table).where(table.c.job_id.in_(old)))
            gone = await connection.execute(delete(results).where(results.c.at < cutoff))
            deleted += gone.rowcount or 0
        return deleted

    async def preferences(self, since: float | None = None) -> list[Preference]:
        """Every choice among the pictures of one request since ``since``, oldest first, as the re-ranker reads
        it: U, V, ⤴ or 🔍 on a grid's cell (the index chosen), 🔄 (none chosen). Requests without embeddings, or of
        one picture (no choice among several), are left out.

        One user's presses saying the same thing about the same request count once (the first): U on a cell and
        then ⤴ or 🔍 under that U image, or V after U, are one choice, not two. Deduplicated here rather than at
        write time: every press stays recorded as it happened (``/forget`` and the retention period see them
        all), the buffered writer needs no read-before-write, and what counts as "the same choice" can change
        without rewriting stored rows."""
        query = (
            select(
                choices.c.job_id,
                choices.c.verb,
                choices.c.chosen,
                choices.c.chat_key,
                choices.c.at,
                choices.c.platform,
                choices.c.user_hash,
            )
            .join(results, results.c.job_id == choices.c.job_id)
            .where(results.c.prompt_embedding.is_not(None))
            .where(choices.c.verb.in_(REJECTING_VERBS | CHOOSING_VERBS))
            .order_by(choices.c.at, choices.c.id)
        )
        if since is not None:
            query = query.where(choices.c.at >= since)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            grids = await self._grids(connection, {row.job_id for row in rows})
        preferences, seen = [], set()
        for row in rows:
            grid = grids.get(row.job_id)
            if grid is None or len(grid[1]) < 2:
                continue
            chosen = None if row.verb in REJECTING_VERBS else row.chosen
            if chosen is not None and not 0 <= chosen < len(grid[1]):
                continue
            said = (row.job_id, row.platform, row.user_hash, chosen)
            if said in seen:
                continue
            seen.add(said)
            preferences.append(Preference(grid[0], grid[1], chosen, row.chat_key, row.at))
        return preferences

    async def _grids(
        self, connection: AsyncConnection, job_ids: set[str]
    ) -> dict[str, tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]]:
        """Each request's prompt embedding and its candidates' image embeddings, in index order."""
        if not job_ids:
            return {}
        prompts = await connection.execute(
            select(results.c.job_id, results.c.prompt_embedding).where(results.c.job_id.in_(job_ids))
        )
        pictures = await connection.execute(
            select(candidates.c.job_id, candidates.c.embedding)
            .where(candidates.c.job_id.in_(job_ids))
            .order_by(candidates.c.job_id, candidates.c.idx)
        )
        images: dict[str, list[tuple[float, ...]]] = {}
        for job_id, embedding in pictures:
            images.setdefault(job_id, []).append(unpack(embedding))
        return {job_id: (unpack(prompt), tuple(images.get(job_id, []))) for job_id, prompt in prompts}

    async def votes_on(self, job_id: str) -> dict[str, int]:
        """The votes on one result: user hash → +1 or -1."""
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(votes.c.user_hash, votes.c.value).where(votes.c.job_id == job_id))
            return {user: value for user, value in rows}

    async def result_request(self, job_id: str) -> dict[str, Any] | None:
        """The request stored with a result (``None``: not stored)."""
        async with self.engine.connect() as connection:
            stored = await connection.scalar(select(results.c.request).where(results.c.job_id == job_id))
        return None if stored is None else dict(json.loads(stored))

    async def counts(self) -> Counts:
        """How many rows each table holds."""
        counted = Counts()
        async with self.engine.connect() as connection:
            for name, table in (
                ("results", results),
                ("candidates", candidates),
                ("votes", votes),
                ("choices", choices),
            ):
                setattr(counted, name, int(await connection.scalar(select(func.count()).select_from(table)) or 0))
        return counted


def _fields(item: Vote | Choice) -> dict[str, Any]:
    return dict(item.__dict__)


def _result_row(record: ResultRecord) -> dict[str, Any]:
    return {
        "job_id": record.job_id,
        "platform": record.platform,
        "chat_key": record.chat_key,
        "user_hash": record.user_hash,
        "kind": record.kind,
        "model": record.model,
        "request": json.dumps(record.request, ensure_ascii=False),
        "prompt_embedding": None if record.prompt_embedding is None else pack(record.prompt_embedding),
        "at": record.at,
    }
