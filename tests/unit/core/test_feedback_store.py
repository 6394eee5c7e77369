"""The feedback database on both engines it supports (a SQLite file and a real PostgreSQL server, tests/postgres.py):
the migrations from an empty database, and every query the bot and the re-ranker make."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine as sync_engine
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from core.database import create_engine, database_url, migrate, sync_url
from core.feedback_store import Choice, FeedbackStore, ResultRecord, Vote
from core.preferences import Preference

CHAT = "telegram:42"
PROMPT = (0.5, 0.75)  # exact in float32, as stored
GRID = ((1.0, 0.0), (0.0, 1.0), (0.5, 0.75), (0.75, 0.5))


def result(job_id: str = "telegram-imagine-42-1", user: str = "alice", at: float = 1000.0, grid=GRID) -> ResultRecord:
    return ResultRecord(
        job_id, "telegram", CHAT, user, "imagine", "tiny", {"prompt": "кот", "seed": 5}, at, PROMPT, grid
    )


@pytest.fixture
async def store(database_url):
    url = make_url(database_url)
    await migrate(url)
    engine = create_engine(url)
    yield FeedbackStore(engine)
    await engine.dispose()


async def test_migrations_create_the_tables_from_an_empty_database_and_run_again_harmlessly(database_url):
    url = make_url(database_url)
    await migrate(url)
    await migrate(url)  # at every start: already at head, nothing to do
    engine = sync_engine(sync_url(url))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"feedback_results", "feedback_candidates", "feedback_votes", "feedback_choices"} <= tables
    assert "alembic_version" in tables


async def test_a_vote_is_one_per_user_and_result_and_the_last_one_counts(store):
    await store.write([result(), Vote("telegram-imagine-42-1", "telegram", CHAT, "bob", 1, 1001.0)])
    await store.write([Vote("telegram-imagine-42-1", "telegram", CHAT, "bob", -1, 1002.0)])
    await store.write([Vote("telegram-imagine-42-1", "telegram", CHAT, "carol", 1, 1003.0), result()])
    assert await store.votes_on("telegram-imagine-42-1") == {"bob": -1, "carol": 1}
    assert (await store.counts()).results == 1  # a result is stored once, however often it comes along
    assert await store.result_request("telegram-imagine-42-1") == {"prompt": "кот", "seed": 5}


async def test_presses_on_grids_become_preferences_with_their_embeddings(store):
    await store.write(
        [
            result(),
            Choice("telegram-imagine-42-1", "telegram", CHAT, "alice", "u", 2, 1010.0),
            Choice("telegram-imagine-42-1", "telegram", CHAT, "alice", "r", None, 1020.0),
            result("telegram-imagine-42-2", grid=GRID[:1]),  # one picture: no choice among several
            Choice("telegram-imagine-42-2", "telegram", CHAT, "alice", "u", 0, 1030.0),
        ]
    )
    preferences = await store.preferences()
    assert preferences == [
        Preference(PROMPT, GRID, 2, CHAT, 1010.0),
        Preference(PROMPT, GRID, None, CHAT, 1020.0),
    ]
    assert await store.preferences(since=1015.0) == [Preference(PROMPT, GRID, None, CHAT, 1020.0)]


async def test_enlarge_and_zoom_under_a_u_image_are_choices_counted_once_per_user_and_cell(store):
    """⤴ (``s``) and 🔍 (``z``) under the U image of a cell choose that cell; the same user's U then ⤴ then 🔍 on it
    is one preference (the first), another user's or another cell's is another; every press stays stored. A verb
    that is no choice, and a press under a one-picture result, make no preference."""
    job, single = "telegram-imagine-42-1", "telegram-imagine-42-2"
    await store.write(
        [
            result(),
            Choice(job, "telegram", CHAT, "alice", "u", 2, 1010.0),
            Choice(job, "telegram", CHAT, "alice", "s", 2, 1011.0),
            Choice(job, "telegram", CHAT, "alice", "z", 2, 1012.0),
            Choice(job, "discord", CHAT, "alice", "s", 2, 1013.0),  # another platform's alice is another person
            Choice(job, "telegram", CHAT, "bob", "z", 2, 1014.0),
            Choice(job, "telegram", CHAT, "alice", "s", 0, 1015.0),  # she liked cell 1 too
            Choice(job, "telegram", CHAT, "alice", "e", None, 1016.0),  # not a verb that chooses
            result(single, grid=GRID[:1]),
            Choice(single, "telegram", CHAT, "alice", "s", 0, 1020.0),
        ]
    )
    assert await store.preferences() == [
        Preference(PROMPT, GRID, 2, CHAT, 1010.0),
        Preference(PROMPT, GRID, 2, CHAT, 1013.0),
        Preference(PROMPT, GRID, 2, CHAT, 1014.0),
        Preference(PROMPT, GRID, 0, CHAT, 1015.0),
    ]
    assert (await store.counts()).choices == 8


async def test_forget_deletes_one_users_records_on_one_platform(store):
    await store.write(
        [
            result("telegram-imagine-42-1", user="alice"),
            result("telegram-imagine-42-2", user="bob"),
            Vote("telegram-imagine-42-2", "telegram", CHAT, "alice", 1, 1001.0),
            Choice("telegram-imagine-42-2", "telegram", CHAT, "alice", "u", 1, 1002.0),
            Vote("telegram-imagine-42-1", "telegram", CHAT, "bob", 1, 1003.0),
            Vote("telegram-imagine-42-2", "telegram", CHAT, "bob", -1, 1004.0),
        ]
    )
    assert await store.forget("discord", "alice") == 0  # another platform's alice is another person
    assert await store.forget("telegram", "alice") == 3  # her vote, her press, her request
    counts = await store.counts()
    assert (counts.results, counts.votes, counts.choices) == (1, 1, 0)
    assert await store.votes_on("telegram-imagine-42-2") == {"bob": -1}
    assert await store.result_request("telegram-imagine-42-1") is None  # with bob's vote on it


async def test_retention_deletes_rows_older_than_the_cutoff(store):
    await store.write(
        [
            result("telegram-imagine-42-1", at=100.0),
            Vote("telegram-imagine-42-1", "telegram", CHAT, "bob", 1, 100.0),
            result("telegram-imagine-42-2", at=5000.0),
            Choice("telegram-imagine-42-2", "telegram", CHAT, "alice", "u", 1, 5000.0),
        ]
    )
    assert await store.delete_older_than(1000.0) == 2
    counts = await store.counts()
    assert (counts.results, counts.candidates, counts.votes, counts.choices) == (1, 4, 0, 1)


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path):
    url = database_url(None, tmp_path / "data")
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", str(tmp_path / "data" / "molbert.sqlite3"))
    assert database_url("postgresql://u:p@db/molbert", tmp_path).drivername == "postgresql+psycopg"
    assert sync_url(url).drivername == "sqlite"
