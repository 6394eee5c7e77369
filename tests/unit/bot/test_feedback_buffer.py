"""The bot's feedback store around the database (bot/feedback.py): the retention sweep, /forget while the database
is away, and a result's request and embeddings taken from what the worker left in Redis."""

from __future__ import annotations

from core.keys import feedback_context_key
from core.protocol import ChatRef, FeedbackContext
from core.telemetry import hash_user
from handlers.texts import t
from tests.factories import chat, feedback_database, make_molbert
from tests.memory import MemoryOutbox
from tests.postgres import free_port

DAY = 86400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_retention_sweep_deletes_what_is_older_than_the_period(tmp_path, aredis):
    clock = Clock(1_000_000.0)
    url = f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}"
    async with feedback_database(url, aredis, retention_days=30, clock=clock) as store:
        store.record_vote(chat(), "telegram-imagine-42-1", 1)
        clock.now += 20 * DAY
        store.record_vote(chat(), "telegram-imagine-42-2", -1)
        assert await store.flush()
        clock.now += 15 * DAY  # the first vote (and its result) is 35 days old, the second 15
        assert await store.delete_expired() == 2
        counts = await store.store.counts()
        assert (counts.results, counts.votes) == (1, 1)
        assert await store.store.votes_on("telegram-imagine-42-2") == {hash_user(chat()): -1}


async def test_the_result_comes_from_the_workers_context_with_its_embeddings(tmp_path, aredis):
    asked = ChatRef(platform="telegram", chat_id=42, user_id=99)
    context = FeedbackContext(
        kind="imagine",
        chat=asked,
        model="tiny",
        request={"prompt": "кот", "num_images": 2},
        prompt_embedding=[0.5, 0.5],
        image_embeddings=[[1.0, 0.0], [0.0, 1.0]],
    )
    await aredis.set(feedback_context_key("telegram-imagine-42-1"), context.model_dump_json())
    async with feedback_database(f"sqlite+aiosqlite:///{tmp_path / 'f.sqlite3'}", aredis) as store:
        store.record_choice(chat(), "telegram-imagine-42-1", "r", None)  # 🔄: none of them
        assert await store.flush()
        [preference] = await store.store.preferences()
        assert preference.chosen is None and preference.image_embeddings == ((1.0, 0.0), (0.0, 1.0))
        assert await store.store.result_request("telegram-imagine-42-1") == {"prompt": "кот", "num_images": 2}
        assert await store.store.forget("telegram", hash_user(asked)) == 1  # the requester's, not the presser's


async def test_forget_while_the_database_is_away_says_so_and_drops_the_buffered_records(aredis):
    away = f"postgresql+psycopg://molbert@127.0.0.1:{free_port()}/molbert?connect_timeout=1"
    async with feedback_database(away, aredis) as store:
        store.record_vote(chat(), "telegram-imagine-42-1", 1)
        store.record_vote(chat(user_id=8), "telegram-imagine-42-1", 1)
        outbox = MemoryOutbox()
        await make_molbert(feedback_store=store).forget(chat(), outbox)
        assert outbox.texts == [t("forget_failed", "ru")]
        assert [item.chat.user_id for item in store.pending] == [8]  # the other user's vote still waits


async def test_the_bot_creates_its_sqlite_database_at_start_with_nothing_set(tmp_path, aredis, monkeypatch):
    """``make run`` needs no step: with ``DATABASE_URL`` unset the bot makes a SQLite file in ``BOT_DATA_DIR`` and
    brings its schema up to date from code as it starts; ``FEEDBACK_ENABLED=false`` keeps nothing."""
    import sqlite3

    from bot.app import feedback_store
    from bot.config import BotConfig
    from handlers import feedback
    from handlers.feedback import NullFeedback

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    async with feedback_store(BotConfig.load(), aredis) as store:
        assert await store.flush()
    with sqlite3.connect(tmp_path / "data" / "molbert.sqlite3") as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"feedback_results", "feedback_votes", "feedback_choices", "alembic_version"} <= tables

    monkeypatch.setenv("FEEDBACK_ENABLED", "false")
    try:
        async with feedback_store(BotConfig.load(), aredis) as store:
            assert isinstance(store, NullFeedback)
            assert feedback.result_buttons(None, "j1") is None  # no 👍/👎 to press
    finally:
        feedback.show_buttons(True)  # the process-wide switch, back for the tests that follow
