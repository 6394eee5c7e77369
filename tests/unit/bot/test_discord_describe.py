"""Discord's ``/describe image:`` and the "Описать" message menu (#21), in process against the fake Discord and a
real Redis, delivered by the real worker on the tiny models; a 🎨 press paints its line. The fixtures are those of
``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import pytest

from bot.config import DiscordSettings
from bot.discord.app import sync_commands
from core.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE, DescribeJob, GenerateJob
from handlers.images import normalize_image
from handlers.texts import t
from tests import images
from tests.unit.bot.test_discord import dispatch, job_payload, queued

# its fixtures: the fake Discord and a guild with a channel and two users
pytest_plugins = ["tests.unit.bot.test_discord"]
pytestmark = pytest.mark.usefixtures("no_progress_reports")

MENU = "Описать"


async def answered(fake, payload):
    """The filled original response of an interaction."""
    return await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m, what="the answer")


def describe_job_id(payload: dict) -> str:
    return f"discord-describe-{payload['channel_id']}-{payload['id']}"


async def test_describe_and_its_menu_are_synced_in_russian_with_english_localisations(fake):
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    commands = {(c["name"], c.get("type", 1)): c for c in fake.commands["global"]}
    describe = commands[("describe", 1)]
    assert describe["description"] == t("discord_cmd_describe", "ru")
    assert describe["description_localizations"]["en-US"] == t("discord_cmd_describe", "en")
    assert [(o["name"], o["type"], o.get("required", False)) for o in describe["options"]] == [("image", 11, True)]
    assert commands[(MENU, 3)]["name_localizations"] == {"en-US": "Describe", "en-GB": "Describe"}


async def test_a_described_picture_gets_lines_and_a_press_paints_one(fake, world, bot, run_worker, redis_conn):
    channel = world["channel"]
    png = images.png(60, 40, (30, 160, 90))
    attachment = fake.upload(channel, png, "лес.png", "image/png")
    payload = fake.slash_command(world["alice"], channel, "describe", {"image": attachment})
    dispatch(bot, payload)
    status = await answered(fake, payload)
    assert status.content.startswith("⏳")
    job_id = describe_job_id(payload)
    assert queued(redis_conn, CLASSIFY_QUEUE) == [job_id]
    job = DescribeJob.model_validate(job_payload(redis_conn, job_id))
    assert redis_conn.get(job.image_key) == normalize_image(png)

    run_worker()
    answer = await fake.wait_for_message(channel["id"], lambda m: m.content.startswith("📝"), timeout=60)
    lines = [line.split(". ", 1)[1] for line in answer.content.splitlines() if line[:1].isdigit()]
    assert 2 <= len(lines) <= 4 and all(line.startswith("/imagine prompt: ") for line in lines)
    assert answer.custom_ids == [f"d:{job_id}:{index}" for index in range(len(lines))]

    press = fake.press_button(world["bob"], answer, answer.custom_ids[0])  # anyone in the channel paints for themselves
    dispatch(bot, press)
    notice = await answered(fake, press)
    assert notice.ephemeral and notice.content == t("button_accepted", "ru")
    painted_id = f"discord-dpaint-{channel['id']}-{press['id']}"
    await fake.wait_for(lambda: painted_id in queued(redis_conn, GENERATE_QUEUE), what="the picture queued")
    painting = GenerateJob.model_validate(job_payload(redis_conn, painted_id))
    assert painting.prompt == lines[0].removeprefix("/imagine prompt: ")
    assert str(painting.chat.user_id) == world["bob"]["id"]
    run_worker()
    picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=60)
    assert f"🎨 {painting.prompt}" in picture.content


async def test_the_menu_describes_the_first_picture_of_a_message(fake, world, bot, redis_conn):
    channel = world["channel"]
    pdf = fake.upload(channel, images.PDF, "notes.pdf", "application/pdf")
    picture = fake.upload(channel, images.png(40, 40), "a.png", "image/png")
    message = fake.user_message(channel, world["bob"], "что это?", [pdf, picture])
    payload = fake.message_command(world["alice"], channel, MENU, message)
    dispatch(bot, payload)
    status = await answered(fake, payload)
    assert status.content.startswith("⏳")
    assert queued(redis_conn, CLASSIFY_QUEUE) == [describe_job_id(payload)]


async def test_a_message_without_pictures_or_a_bad_file_queues_nothing(fake, world, bot, redis_conn):
    channel = world["channel"]
    message = fake.user_message(channel, world["bob"], "просто текст", [])
    payload = fake.message_command(world["alice"], channel, MENU, message)
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content == t("discord_no_images", "ru")
    pdf = fake.upload(channel, images.PDF, "notes.pdf", "application/pdf")
    payload = fake.slash_command(world["alice"], channel, "describe", {"image": pdf})
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content == t("document_not_image", "ru", mime="application/pdf")
    assert queued(redis_conn, CLASSIFY_QUEUE) == []
