"""Discord's /queue, /cancel, /labels, /stats and the ✖ under a "queued" message, in process against the fake
Discord and a real Redis (no worker: jobs stay queued). The fixtures are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import pytest

from bot.config import DiscordSettings
from bot.discord.app import MolbertBot, sync_commands
from bot.limits import RedisAdmission
from bot.queue import RedisJobs
from core.protocol import GENERATE_QUEUE, job_id_for
from handlers.access import AccessPolicy
from handlers.texts import t
from tests.factories import make_molbert
from tests.unit.bot.test_discord import chat_ref_of, dispatch, queued, shown_queued

# its fixtures: the fake Discord and a guild with a channel and two users
pytest_plugins = ["tests.unit.bot.test_discord"]


@pytest.fixture
async def bot(fake, aredis, redis_conn):
    """A logged-in bot whose use cases keep the fair-use slots, as in production (``/queue`` lists from them)."""
    molbert = make_molbert(RedisJobs(redis_conn), admission=RedisAdmission(redis_conn))
    bot = MolbertBot(molbert, aredis, consumer="test")
    bot.listener.block_ms = 50
    await bot.__aenter__()
    await bot.login(fake.token)
    yield bot
    await bot.close()


COMMANDS = ("queue", "cancel", "labels", "stats")


async def answered(fake, payload):
    """The filled (ephemeral) original response of a command."""
    return await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m, what="the answer")


async def test_the_commands_are_synced_in_russian_with_english_localisations(fake, world):
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    commands = {c["name"]: c for c in fake.commands["global"] if c.get("type", 1) == 1}
    for name in COMMANDS:
        key = f"cmd_{name}"
        assert commands[name]["description"] == t(key, "ru")
        assert commands[name]["description_localizations"]["en-US"] == t(key, "en")
    [option] = commands["labels"]["options"]
    assert (option["name"], option["type"], option.get("required", False)) == ("labels", 3, False)
    assert option["description_localizations"]["en-US"] == t("discord_opt_chat_labels", "en")


async def test_queue_lists_the_users_jobs_and_cancel_takes_them_off(fake, world, bot, aredis, redis_conn):
    alice, channel = world["alice"], world["channel"]
    imagine = fake.slash_command(alice, channel, "imagine", {"prompt": "кот"})
    dispatch(bot, imagine)
    status = await shown_queued(fake, aredis, imagine)

    listing = fake.slash_command(alice, channel, "queue")
    dispatch(bot, listing)
    shown = await answered(fake, listing)
    assert shown.ephemeral
    assert shown.content.splitlines() == [
        t("queue_header", "ru"),
        t("queue_waiting", "ru", number=1, what="🎨 «кот»", position=1),
    ]
    others = fake.slash_command(world["bob"], channel, "queue", locale="en-US")
    dispatch(bot, others)
    assert (await answered(fake, others)).content == t("queue_empty", "en")

    cancel = fake.slash_command(alice, channel, "cancel")
    dispatch(bot, cancel)
    assert (await answered(fake, cancel)).content == t("cancel_done", "ru", count=1)
    assert queued(redis_conn, GENERATE_QUEUE) == []
    await fake.wait_for(lambda: status.content == t("cancelled", "ru"), what="the queued message saying cancelled")
    assert status.custom_ids == [], "the cancelled message keeps no ✖"


async def test_labels_are_shown_to_all_and_set_only_by_those_who_manage_the_server(fake, world, bot):
    bob, channel = world["bob"], world["channel"]
    refused = fake.slash_command(bob, channel, "labels", {"labels": "кошка, собака"})
    dispatch(bot, refused)
    assert (await answered(fake, refused)).content == t("labels_admins_only", "ru", platform="discord")
    asked = fake.slash_command(bob, channel, "labels")
    dispatch(bot, asked)
    assert (await answered(fake, asked)).content == t("labels_default", "ru", platform="discord")

    dm = fake.dm_channel(bob)  # in a DM with the bot, the user is its admin
    setting = fake.slash_command(bob, dm, "labels", {"labels": "кошка, собака"})
    dispatch(bot, setting)
    assert (await answered(fake, setting)).content == t("labels_set", "ru", count=2, labels="кошка, собака")
    shown = fake.slash_command(bob, dm, "labels")
    dispatch(bot, shown)
    shown_labels = t("labels_current", "ru", platform="discord", labels="кошка, собака")
    assert (await answered(fake, shown)).content == shown_labels
    assert await bot.molbert.settings_store.labels(chat_ref_of(bot, shown)) == ["кошка", "собака"]
    assert await bot.molbert.settings_store.labels(chat_ref_of(bot, asked)) is None, "the guild channel kept its set"

    fake.grant_manage_guild(world["guild"], bob)  # now Bob manages the server: he may set the channel's labels
    granted = fake.slash_command(bob, channel, "labels", {"labels": "лиса, волк"})
    dispatch(bot, granted)
    assert (await answered(fake, granted)).content == t("labels_set", "ru", count=2, labels="лиса, волк")
    assert await bot.molbert.settings_store.labels(chat_ref_of(bot, granted)) == ["лиса", "волк"]


async def test_stats_are_for_operators_only(fake, world, bot):
    alice, channel = world["alice"], world["channel"]
    refused = fake.slash_command(alice, channel, "stats")
    dispatch(bot, refused)
    assert (await answered(fake, refused)).content == t("operators_only", "ru")
    bot.molbert.access = AccessPolicy(operators=frozenset({f"discord:{alice['id']}"}))
    asked = fake.slash_command(alice, channel, "stats")
    dispatch(bot, asked)
    stats = await answered(fake, asked)
    assert stats.ephemeral and stats.content.startswith("📊") and "0" in stats.content


async def test_the_cancel_button_answers_only_the_owner(fake, world, bot, aredis, redis_conn):
    alice, channel = world["alice"], world["channel"]
    imagine = fake.slash_command(alice, channel, "imagine", {"prompt": "маяк"})
    dispatch(bot, imagine)
    status = await shown_queued(fake, aredis, imagine)
    job_id = job_id_for(chat_ref_of(bot, imagine), "imagine")
    assert status.custom_ids == [f"x:{job_id}"]

    other = fake.press_button(world["bob"], status, f"x:{job_id}", locale="en-US")
    dispatch(bot, other)
    refused = await answered(fake, other)
    assert refused.ephemeral and refused.content == t("cancel_not_yours", "en")
    assert queued(redis_conn, GENERATE_QUEUE) == [job_id]

    own = fake.press_button(alice, status, f"x:{job_id}")
    dispatch(bot, own)
    assert (await answered(fake, own)).content == t("cancel_pressed", "ru")
    await fake.wait_for(lambda: status.content == t("cancelled", "ru"), what="the queued message saying cancelled")
    assert status.custom_ids == [] and queued(redis_conn, GENERATE_QUEUE) == []
