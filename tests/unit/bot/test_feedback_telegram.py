"""Feedback through Telegram (issue #22): 👍/👎 under a result, answered at once, changeable, one per user and
result; U/V/🔄 (and ⤴ under a U image) recorded as preferences with the grid's CLIP embeddings; /forget; a
chat's /settings turning collecting off; and the database being away, which never stops a picture.

aiogram polls the fake Bot API in process with the real routers, the real ``RedisJobs``, the result listener and
the real worker on the tiny preset; feedback goes to the bot's own store (``bot.feedback.DatabaseFeedback``) on a
SQLite file or a real PostgreSQL server.
"""

from __future__ import annotations

import io

import pytest
from aiogram import Bot
from PIL import Image

from bot.config import TelegramSettings
from bot.queue import RedisJobs
from bot.telegram.app import create_bot, create_dispatcher
from bot.telegram.outbox import TelegramOutbox
from core.keys import image_key
from core.protocol import ChatRef
from core.telemetry import hash_user
from handlers.texts import t
from tests.factories import feedback_database, make_molbert, serving_telegram
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.postgres import free_port

ALICE, BOB = 7201, 7202
GROUP = -100722


def voter(user_id: int) -> ChatRef:
    return ChatRef(platform="telegram", chat_id=GROUP, user_id=user_id)


@pytest.fixture
async def telegram():
    async with FakeTelegramAPI() as fake:
        yield fake


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}"


async def serve(telegram, redis_conn, aredis, store):
    """The bot's frontend serving the fake, with its own dispatcher (aiogram's binds to one event loop)."""
    dispatcher = create_dispatcher()
    bot: Bot = create_bot(TelegramSettings(bot_token=telegram.token, api_url=telegram.base_url))
    molbert = make_molbert(RedisJobs(redis_conn), feedback_store=store)
    return molbert, serving_telegram(bot, dispatcher, molbert, TelegramOutbox(bot), aredis)


async def painted_grid(telegram, run_worker, text: str = "/imagine маяк на скале --n 2"):
    """Alice asks for pictures in the group; the worker paints them; the grid as Telegram shows it."""
    alice = telegram.user(ALICE, "Алиса")
    asked = telegram.send_text(GROUP, alice, text, chat_type="supergroup")
    await telegram.wait_for_message(GROUP, after=asked["message_id"])
    run_worker()
    return await telegram.wait_for_photo(GROUP, after=asked["message_id"], timeout=60)


def button(grid, text: str) -> str:
    return next(b["callback_data"] for row in grid.reply_markup["inline_keyboard"] for b in row if b["text"] == text)


async def answer_to(telegram, query) -> str:
    answered = await telegram.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query["id"])
    return answered["text"]


async def test_votes_are_answered_at_once_changeable_and_one_per_user(
    telegram, redis_conn, aredis, run_worker, sqlite_url
):
    async with feedback_database(sqlite_url, aredis) as store:
        _molbert, serving = await serve(telegram, redis_conn, aredis, store)
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            alice, bob = telegram.user(ALICE, "Алиса"), telegram.user(BOB, "Боб")
            up, down = button(grid, "👍"), button(grid, "👎")
            assert up.startswith("f:") and len(up.encode()) <= 64
            assert await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, up)) == t(
                "feedback_up", "ru"
            )
            assert await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, down)) == t(
                "feedback_down", "ru"
            )
            await answer_to(telegram, telegram.press_button(GROUP, bob, grid.message_id, up))
            assert await store.flush()
        job_id = up.split(":")[1]
        assert await store.store.votes_on(job_id) == {hash_user(voter(ALICE)): -1, hash_user(voter(BOB)): 1}
        kept = await store.store.result_request(job_id)
        assert kept is not None and kept["prompt"] == "маяк на скале" and kept["num_images"] == 2


async def test_u_press_becomes_a_preference_with_the_grids_embeddings(
    telegram, redis_conn, aredis, run_worker, tiny_models, database_url
):
    async with feedback_database(database_url, aredis) as store:
        _molbert, serving = await serve(telegram, redis_conn, aredis, store)
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            u2 = button(grid, "U2")
            query = telegram.press_button(GROUP, telegram.user(ALICE, "Алиса"), grid.message_id, u2)
            await answer_to(telegram, query)
            await telegram.wait_for_document(GROUP, after=grid.message_id)
            assert await store.flush()
        [preference] = await store.store.preferences()
        job_id = u2.split(":")[1]
        pictures = [Image.open(io.BytesIO(redis_conn.get(image_key(job_id, index)))) for index in range(2)]
        prompt, images = tiny_models.classifier.embedding_lists(pictures, "маяк на скале")
        assert preference.chosen == 1 and preference.chat_key == f"telegram:{GROUP}"
        assert preference.prompt_embedding == pytest.approx(prompt, abs=1e-5)
        assert len(preference.image_embeddings) == 2
        for kept, computed in zip(preference.image_embeddings, images, strict=True):
            assert kept == pytest.approx(computed, abs=1e-5)


async def test_enlarge_under_the_u_image_is_recorded_as_that_cell_and_counts_once(
    telegram, redis_conn, aredis, run_worker, sqlite_url
):
    """U2, then ⤴ ×2 under the U image it sent: both presses are stored as choices of cell 2 of the grid, and the
    re-ranker reads one preference from them."""
    async with feedback_database(sqlite_url, aredis) as store:
        _molbert, serving = await serve(telegram, redis_conn, aredis, store)
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            alice = telegram.user(ALICE, "Алиса")
            await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "U2")))
            alone = await telegram.wait_for_photo(GROUP, after=grid.message_id)
            enlarge = button(alone, "⤴ ×2")
            assert enlarge.split(":")[1:3] == [button(grid, "U2").split(":")[1], "1"]  # the grid's job, cell 2
            answer = await answer_to(telegram, telegram.press_button(GROUP, alice, alone.message_id, enlarge))
            assert answer == t("button_accepted", "ru")
            assert await store.flush()
        assert (await store.store.counts()).choices == 2
        [preference] = await store.store.preferences()
        assert preference.chosen == 1 and len(preference.image_embeddings) == 2


async def test_forget_deletes_the_users_records(telegram, redis_conn, aredis, run_worker, sqlite_url):
    async with feedback_database(sqlite_url, aredis) as store:
        _molbert, serving = await serve(telegram, redis_conn, aredis, store)
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            alice = telegram.user(ALICE, "Алиса")
            await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "U1")))
            await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "👍")))
            assert await store.flush()
            assert (await store.store.counts()).votes == 1
            asked = telegram.send_text(GROUP, alice, "/forget", chat_type="supergroup")
            await telegram.wait_for_text(
                GROUP, t("forget_done", "ru", where="Telegram", count=3), after=asked["message_id"]
            )
        counts = await store.store.counts()
        assert (counts.results, counts.candidates, counts.votes, counts.choices) == (0, 0, 0, 0)


async def test_a_chat_that_turned_collecting_off_keeps_nothing(telegram, redis_conn, aredis, run_worker, sqlite_url):
    async with feedback_database(sqlite_url, aredis) as store:
        molbert, serving = await serve(telegram, redis_conn, aredis, store)
        await molbert.settings_store.save(voter(ALICE), "feedback", "off")
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            alice = telegram.user(ALICE, "Алиса")
            answer = await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "👍")))
            assert answer == t("feedback_off", "ru")
            await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "U1")))
            await telegram.wait_for_document(GROUP, after=grid.message_id)  # U itself still works
            assert await store.flush()
        counts = await store.store.counts()
        assert (counts.results, counts.votes, counts.choices) == (0, 0, 0)


async def test_the_database_being_away_never_stops_pictures(telegram, redis_conn, aredis, run_worker, caplog):
    """Nothing listens on the database's port: the picture is painted and delivered, 👍 is answered, U sends the
    picture; the records wait in the bounded buffer, and the one over the bound is dropped with a log line."""
    away = f"postgresql+psycopg://molbert@127.0.0.1:{free_port()}/molbert?connect_timeout=1"
    async with feedback_database(away, aredis, buffer=1) as store:
        _molbert, serving = await serve(telegram, redis_conn, aredis, store)
        async with serving:
            grid = await painted_grid(telegram, run_worker)
            alice = telegram.user(ALICE, "Алиса")
            answer = await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "👍")))
            assert answer == t("feedback_up", "ru")
            await answer_to(telegram, telegram.press_button(GROUP, alice, grid.message_id, button(grid, "U2")))
            await telegram.wait_for_document(GROUP, after=grid.message_id)
            assert not await store.flush(timeout=0.5)
        assert len(store.pending) == 1 and store.dropped == 1
        assert "feedback buffer full" in caplog.text
