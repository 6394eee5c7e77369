"""Discord's ranking: ``/rank query: image1…image10`` and the "Выбрать лучшую по запросу" message menu with its
modal, in process against the fake Discord and a real Redis, delivered by the real worker on the tiny models.
The fixtures are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.config import DiscordSettings
from bot.discord.app import sync_commands
from core.keys import rank_input_key
from core.protocol import CLASSIFY_QUEUE, MAX_RANKED_PHOTOS, RankJob
from handlers.images import normalize_image
from handlers.texts import t
from tests import images
from tests.fakes.discord_api import MODAL
from tests.unit.bot.test_discord import dispatch, job_payload, queued, until

# its fixtures: the fake Discord and a guild with a channel and two users
pytest_plugins = ["tests.unit.bot.test_discord"]
# test_discord's run_worker does not reach here (conftest fixtures win over a plugin's): progress off here too
pytestmark = pytest.mark.usefixtures("no_progress_reports")

MENU = "Выбрать лучшую по запросу"
QUERY = "самый смешной мем"
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def pictures(fake, channel, count: int = 3) -> tuple[list[dict], list[bytes]]:
    """``count`` PNG attachments of different sizes and colours, and their bytes."""
    data = [images.png(40 + n, 40, COLORS[n % len(COLORS)]) for n in range(count)]
    return [fake.upload(channel, png, f"{n + 1}.png", "image/png") for n, png in enumerate(data)], data


def rank_job_id(payload: dict) -> str:
    return f"discord-rank-{payload['channel_id']}-{payload['id']}"


async def answered(fake, payload):
    """The filled original response of an interaction."""
    return await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m, what="the answer")


async def modal_shown(fake, bot, menu: dict) -> dict:
    """The modal the bot answered ``menu`` with, once discord.py waits for its submission (the fake hears of the
    modal before the bot has the answer to its request; a user takes longer than that to type)."""
    modal = await fake.wait_for(lambda: fake.interaction(menu).modal, what="the modal")
    await until(lambda: modal["custom_id"] in bot._connection._view_store._modals)
    return modal


async def test_rank_and_its_menu_are_synced_in_russian_with_english_localisations(fake):
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    commands = {(c["name"], c.get("type", 1)): c for c in fake.commands["global"]}
    rank = commands[("rank", 1)]
    assert rank["description"] == t("discord_cmd_rank", "ru")
    assert rank["description_localizations"]["en-US"] == t("discord_cmd_rank", "en")
    options = [(o["name"], o["type"], o.get("required", False)) for o in rank["options"]]
    assert options == [("query", 3, True), ("image1", 11, True), ("image2", 11, True)] + [
        (f"image{n}", 11, False) for n in range(3, MAX_RANKED_PHOTOS + 1)
    ]
    assert rank["options"][1]["description_localizations"]["en-US"] == t("discord_opt_rank_image", "en")
    menu = commands[(MENU, 3)]
    assert menu["name_localizations"] == {"en-US": "Rank by a query", "en-GB": "Rank by a query"}


async def test_rank_queues_one_job_with_the_pictures_and_the_query(fake, world, bot, redis_conn):
    channel = world["channel"]
    attached, data = pictures(fake, channel)
    options = {"query": f"  {QUERY} ", "image1": attached[0], "image2": attached[1], "image3": attached[2]}
    payload = fake.slash_command(world["alice"], channel, "rank", options)
    dispatch(bot, payload)
    status = await answered(fake, payload)
    assert status.content.startswith("⏳")
    job_id = rank_job_id(payload)
    assert queued(redis_conn, CLASSIFY_QUEUE) == [job_id]
    job = RankJob.model_validate(job_payload(redis_conn, job_id))
    assert (job.query, job.photo_messages) == (QUERY, []), "no message per picture: the result shows the best one"
    assert job.image_keys == [rank_input_key(job_id, n) for n in range(3)]
    stored = [redis_conn.get(key) for key in job.image_keys]
    assert stored == [normalize_image(png) for png in data]


async def test_the_user_sees_the_ranking_with_the_best_picture(fake, world, bot, run_worker, redis_conn):
    channel = world["channel"]
    attached, data = pictures(fake, channel)
    options = {"query": QUERY, "image1": attached[0], "image2": attached[1], "image3": attached[2]}
    payload = fake.slash_command(world["alice"], channel, "rank", options)
    dispatch(bot, payload)
    status = await answered(fake, payload)
    run_worker()
    result = await fake.wait_for_message(channel["id"], lambda m: m.files and m.content.startswith("🏆"), timeout=30)
    header, *lines = result.content.splitlines()
    number = int(header.split("картинка ")[1].split(" ")[0])
    assert header == t("rank_header", "ru", platform="discord", query=QUERY, number=number, count=3)
    assert len(lines) == 3 and lines[0].endswith(f"картинка {number}")
    [picture] = result.files
    assert picture.data == normalize_image(data[number - 1]), "the best picture itself is attached"
    assert picture.filename == "molbert.jpg", "named as what it is (Discord goes by the name)"
    assert Image.open(io.BytesIO(picture.data)).size == (40 + number - 1, 40)
    assert result.via == "followup"
    await fake.wait_for(lambda: status.deleted, what="the queued message gone")
    job_id = rank_job_id(payload)
    await until(lambda: not redis_conn.exists(*(rank_input_key(job_id, n) for n in range(3))))  # none left in Redis


async def test_the_menu_asks_for_the_query_in_a_modal_then_ranks_the_messages_pictures(fake, world, bot, redis_conn):
    channel = world["channel"]
    attached, data = pictures(fake, channel, 2)
    pdf = fake.upload(channel, images.PDF, "notes.pdf", "application/pdf")  # not a picture: left out
    message = fake.user_message(channel, world["bob"], "какой смешнее?", [attached[0], pdf, attached[1]])
    menu = fake.message_command(world["alice"], channel, MENU, message, locale="en-US")
    dispatch(bot, menu)
    modal = await modal_shown(fake, bot, menu)
    assert fake.interaction(menu).response_type == MODAL
    assert modal["title"] == t("discord_rank_modal_title", "en")
    [field] = modal["components"]
    assert (field["label"], field["component"]["custom_id"]) == (t("discord_rank_modal_label", "en"), "query")
    assert queued(redis_conn, CLASSIFY_QUEUE) == [], "nothing is queued before the query is known"

    submit = fake.submit_modal(menu, {"query": QUERY})
    dispatch(bot, submit)
    status = await answered(fake, submit)
    assert status.content.startswith("⏳")
    job_id = rank_job_id(submit)
    assert queued(redis_conn, CLASSIFY_QUEUE) == [job_id]
    job = RankJob.model_validate(job_payload(redis_conn, job_id))
    assert (job.query, job.chat.lang, len(job.image_keys)) == (QUERY, "en", 2)
    assert [redis_conn.get(key) for key in job.image_keys] == [normalize_image(png) for png in data]


@pytest.mark.parametrize("count", [0, 1])
async def test_the_menu_on_a_message_with_fewer_than_two_pictures_explains_without_a_modal(
    fake, world, bot, redis_conn, count
):
    channel = world["channel"]
    attached, _data = pictures(fake, channel, count)
    message = fake.user_message(channel, world["bob"], "вот", attached)
    menu = fake.message_command(world["alice"], channel, MENU, message)
    dispatch(bot, menu)
    answer = await answered(fake, menu)
    key = "discord_rank_photo_count" if count else "discord_no_images"
    assert answer.content == t(key, "ru", limit=MAX_RANKED_PHOTOS)
    assert fake.interaction(menu).modal is None
    assert queued(redis_conn, CLASSIFY_QUEUE) == []


async def test_a_blank_query_in_the_modal_is_explained_and_queues_nothing(fake, world, bot, redis_conn):
    channel = world["channel"]
    attached, _data = pictures(fake, channel, 2)
    message = fake.user_message(channel, world["bob"], "", attached)
    menu = fake.message_command(world["alice"], channel, MENU, message)
    dispatch(bot, menu)
    await modal_shown(fake, bot, menu)
    submit = fake.submit_modal(menu, {"query": " \u200b "})  # not empty to the client, nothing to look for
    dispatch(bot, submit)
    assert (await answered(fake, submit)).content == t("rank_no_query", "ru", platform="discord")
    assert queued(redis_conn, CLASSIFY_QUEUE) == []


@pytest.mark.parametrize(
    ("second", "query", "expected"),
    [
        ((images.PDF, "doc.pdf", "application/pdf"), QUERY, t("document_not_image", "ru", mime="application/pdf")),
        ((images.png(20, 20), "2.png", "image/png"), "\u200b", t("rank_no_query", "ru", platform="discord")),
        ((b"\x00" * 64, "broken.png", "image/png"), QUERY, t("image_unreadable", "ru")),
    ],
    ids=["a-pdf", "an-invisible-query", "an-unreadable-picture"],
)
async def test_bad_rank_input_is_explained_and_queues_nothing(fake, world, bot, redis_conn, second, query, expected):
    channel = world["channel"]
    first = fake.upload(channel, images.png(30, 30), "1.png", "image/png")
    options = {"query": query, "image1": first, "image2": fake.upload(channel, *second)}
    payload = fake.slash_command(world["alice"], channel, "rank", options)
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content == expected
    assert queued(redis_conn, CLASSIFY_QUEUE) == []
    assert not redis_conn.keys("molbert:input:*"), "no picture was stored"
