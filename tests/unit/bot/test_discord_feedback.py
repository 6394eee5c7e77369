"""Feedback on Discord (issue #22): 👍/👎 under a picture, answered only to the presser at once, changeable, one
per user; ``/forget``. discord.py's real HTTP layer against the fake Discord, the real worker on the tiny models,
feedback in the bot's own store on a SQLite file."""

from __future__ import annotations

import discord
import pytest

from bot.discord.app import MolbertBot
from bot.queue import RedisJobs
from core.protocol import ChatRef
from core.telemetry import hash_user
from handlers.texts import t
from tests.factories import feedback_database, make_molbert
from tests.fakes.discord_api import EPHEMERAL, FakeDiscordAPI


@pytest.fixture
async def fake(monkeypatch):
    async with FakeDiscordAPI() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
        yield fake


@pytest.fixture
async def store(tmp_path, aredis):
    async with feedback_database(f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}", aredis) as store:
        yield store


@pytest.fixture
async def bot(fake, aredis, redis_conn, store, no_progress_reports):
    bot = MolbertBot(make_molbert(RedisJobs(redis_conn), feedback_store=store), aredis, consumer="test")
    bot.listener.block_ms = 50
    await bot.__aenter__()
    await bot.login(fake.token)
    yield bot
    await bot.close()


def dispatch(bot: MolbertBot, payload: dict) -> None:
    """What the gateway reader does with an INTERACTION_CREATE event."""
    bot._connection.parse_interaction_create(payload)


async def pressed(fake, bot, user, message, custom_id: str) -> dict:
    """Press a button; the response the presser got (type, data)."""
    press = fake.press_button(user, message, custom_id)
    dispatch(bot, press)
    calls = await fake.wait_for(lambda: fake.calls_to("POST", rf"/interactions/{press['id']}/[^/]+/callback"))
    return calls[0].json


async def test_votes_on_discord_are_ephemeral_changeable_and_one_per_user(fake, bot, store, run_worker):
    guild = fake.guild()
    channel, alice, bob = fake.text_channel(guild), fake.user("Алиса"), fake.user("Bob")
    dispatch(bot, fake.slash_command(alice, channel, "imagine", {"prompt": "кот в космосе"}))
    await fake.wait_for(lambda: any(m.content.startswith("⏳") for m in fake.messages(channel["id"])))
    run_worker()
    picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    up = next(custom_id for custom_id in picture.custom_ids if custom_id.endswith(":+"))
    down = up.removesuffix("+") + "-"
    first = await pressed(fake, bot, alice, picture, up)
    assert first["data"]["content"] == t("feedback_up", "ru") and first["data"]["flags"] & EPHEMERAL
    assert (await pressed(fake, bot, alice, picture, down))["data"]["content"] == t("feedback_down", "ru")
    await pressed(fake, bot, bob, picture, up)
    assert await store.flush()
    job_id = up.split(":")[1]
    where = {"platform": "discord", "chat_id": channel["id"]}
    assert await store.store.votes_on(job_id) == {
        hash_user(ChatRef(**where, user_id=alice["id"])): -1,
        hash_user(ChatRef(**where, user_id=bob["id"])): 1,
    }

    forget = fake.slash_command(alice, channel, "forget", {})
    dispatch(bot, forget)
    done = t("forget_done", "ru", where="Discord", count=2)  # her vote and her request
    await fake.wait_for(lambda: (m := fake.original(forget)) and m.content == done and m)
    assert await store.store.votes_on(job_id) == {}  # bob's vote went with her request


async def test_enlarging_the_u_image_on_discord_is_a_second_choice_of_its_cell(fake, bot, store, run_worker):
    """U2, then ⤴ ×2 under the picture U sent: both presses are stored as choices of cell 2 of the grid (the
    re-ranker reads them as one preference), as on Telegram and in the terminal."""
    guild = fake.guild()
    channel, alice = fake.text_channel(guild), fake.user("Алиса")
    dispatch(bot, fake.slash_command(alice, channel, "imagine", {"prompt": "кот в космосе --n 2"}))
    await fake.wait_for(lambda: any(m.content.startswith("⏳") for m in fake.messages(channel["id"])))
    run_worker()
    grid = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    u2 = next(custom_id for custom_id in grid.custom_ids if custom_id.startswith("u:") and custom_id.endswith(":1"))
    job_id = u2.split(":")[1]
    await pressed(fake, bot, alice, grid, u2)
    alone = await fake.wait_for_message(channel["id"], lambda m: m.files and m is not grid and m.custom_ids, timeout=30)
    enlarge = next(custom_id for custom_id in alone.custom_ids if custom_id.startswith("s:"))
    assert enlarge.split(":")[1:3] == [job_id, "1"]  # the grid's job, cell 2
    await pressed(fake, bot, alice, alone, enlarge)
    assert await store.flush()
    assert (await store.store.counts()).choices == 2
