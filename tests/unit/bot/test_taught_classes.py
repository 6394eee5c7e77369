"""The database adapter of :class:`handlers.ports.TaughtClassStore` on both engines (a SQLite file and a real
PostgreSQL server): the migrations from an empty database, per chat, replace by casefolded name, remove, a Discord
thread sharing its channel's classes, the one-time move of the classes an older Molbert kept in Redis, and the
database being away reaching the use cases one way."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import create_engine as sync_engine
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bot.taught_classes import DatabaseTaughtClasses
from core.database import create_engine, sync_url
from core.protocol import ChatRef
from core.taught_store import TaughtClassQueries
from handlers.errors import ClassesUnavailable
from handlers.ports import TaughtClass
from tests.postgres import free_port

CHAT = ChatRef(platform="telegram", chat_id=-100, user_id=7)
OLD_KEY = "molbert:taught-classes:telegram:-100"  # where an older Molbert kept CHAT's classes


@pytest.fixture
async def engine(database_url):
    engine = create_engine(make_url(database_url))
    yield engine
    await engine.dispose()


def store_on(engine, legacy=None) -> DatabaseTaughtClasses:
    return DatabaseTaughtClasses(TaughtClassQueries(engine), engine.url, legacy)


async def test_the_migrations_create_the_table_from_an_empty_database(engine):
    await store_on(engine).start()
    await store_on(engine).start()  # at every start: already at head
    sync = sync_engine(sync_url(engine.url))
    tables = set(inspect(sync).get_table_names())
    keys = inspect(sync).get_pk_constraint("taught_classes")["constrained_columns"]
    sync.dispose()
    assert {"taught_classes", "feedback_results"} <= tables
    assert keys == ["platform", "chat_id", "name_key"]  # one class per chat and casefolded name


async def test_classes_are_added_replaced_listed_and_removed(engine):
    store = store_on(engine)
    assert await store.add(CHAT, TaughtClass("Мурка", (0.6, 0.8), 3, 2.0, "ruclip", 2)) is False
    assert await store.add(CHAT, TaughtClass("Барсик", (1.0, 0.0), 1, 1.0, "ruclip", 2)) is False
    assert await store.add(CHAT, TaughtClass("мурка", (0.0, 1.0), 5, 3.0, "ruclip", 2)) is True
    assert await store.classes(CHAT) == [
        TaughtClass("Барсик", (1.0, 0.0), 1, 1.0, "ruclip", 2),
        TaughtClass("мурка", (0.0, 1.0), 5, 3.0, "ruclip", 2),
    ]
    assert await store.remove(CHAT, "МУРКА") is True
    assert await store.remove(CHAT, "мурка") is False
    assert [c.name for c in await store.classes(CHAT)] == ["Барсик"]
    assert await store.classes(CHAT.model_copy(update={"chat_id": -200})) == []
    assert await store.classes(CHAT.model_copy(update={"platform": "discord"})) == []


async def test_a_discord_thread_shares_its_channels_classes(engine):
    store = store_on(engine)
    channel = ChatRef(platform="discord", chat_id=5, user_id=7, parent_ids=(9,))
    thread = ChatRef(platform="discord", chat_id=6, user_id=7, thread_id=6, parent_ids=(5, 9))
    await store.add(channel, TaughtClass("Мурка", (1.0,), 1, 1.0))
    assert [c.name for c in await store.classes(thread)] == ["Мурка"]


async def test_classes_an_older_molbert_kept_in_redis_move_in_once_and_leave_redis(engine, aredis):
    old = {"name": "Мурка", "prototype": [0.5, 0.75], "shots": 3, "at": 5.0}
    await aredis.hset(OLD_KEY, mapping={"мурка": json.dumps(old), "барсик": json.dumps({**old, "name": "Барсик"})})
    await aredis.hset("molbert:taught-classes:discord:77", "рекс", json.dumps({**old, "name": "Рекс"}))
    await aredis.hset("molbert:taught-classes:discord:77", "сломан", "{not json")  # left out, not a failure
    await store_on(engine).add(CHAT, TaughtClass("Барсик", (1.0, 0.0), 2, 9.0, "ruclip", 2))  # taught since
    store = store_on(engine, aredis)
    await store.start()
    assert await store.classes(CHAT) == [
        TaughtClass("Мурка", (0.5, 0.75), 3, 5.0, None, 1),  # the old format: scored by its name until re-taught
        TaughtClass("Барсик", (1.0, 0.0), 2, 9.0, "ruclip", 2),  # the database's own class won
    ]
    discord = ChatRef(platform="discord", chat_id=77, user_id=7)
    assert [c.name for c in await store.classes(discord)] == ["Рекс"]
    assert await aredis.keys("molbert:taught-classes:*") == []
    await aredis.hset(OLD_KEY, "мурка", json.dumps({**old, "shots": 9}))  # only moved once per start
    assert [c.shots for c in await store.classes(CHAT)] == [3, 2]


async def test_a_database_away_is_classes_unavailable_and_tried_again_later(engine, monkeypatch):
    away = make_url(f"postgresql+psycopg://molbert@127.0.0.1:{free_port()}/molbert?connect_timeout=1")
    unreachable = create_engine(away)
    store = store_on(unreachable)
    with pytest.raises(ClassesUnavailable) as refused:
        await store.classes(CHAT)
    assert refused.value.key == "classes_unavailable" and "127.0.0.1" not in refused.value.reason
    with pytest.raises(ClassesUnavailable):
        await store.add(CHAT, TaughtClass("Мурка", (1.0,), 1, 1.0))
    await unreachable.dispose()
    store.queries.engine, store.url = engine, engine.url  # the database is back
    assert await store.classes(CHAT) == []


async def test_the_bot_keeps_them_in_its_sqlite_database_with_nothing_set_and_feedback_off(
    tmp_path, aredis, monkeypatch
):
    """With ``DATABASE_URL`` unset the classes go to the SQLite file in ``BOT_DATA_DIR``, whether feedback is
    collected or not, and an older Molbert's Redis hashes are moved in as the bot starts."""
    from bot.app import taught_class_store
    from bot.config import BotConfig

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FEEDBACK_ENABLED", "false")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    old = {"name": "Мурка", "prototype": [0.5, 0.75], "shots": 3, "at": 5.0}
    await aredis.hset(OLD_KEY, "мурка", json.dumps(old))
    async with taught_class_store(BotConfig.load(), aredis) as store:
        for _ in range(200):  # moved by a task at start
            if not await aredis.exists(OLD_KEY):
                break
            await asyncio.sleep(0.05)
        assert await aredis.exists(OLD_KEY) == 0
        assert [c.name for c in await store.classes(CHAT)] == ["Мурка"]
    assert (tmp_path / "data" / "molbert.sqlite3").is_file()
