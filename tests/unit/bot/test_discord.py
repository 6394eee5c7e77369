"""The Discord frontend in process: discord.py's real HTTP layer against the fake Discord, a real Redis, and (for
the deliveries) the real worker on the tiny models.

The gateway is not used here: interactions are handed to the bot the way its gateway reader does
(``bot._connection.parse_interaction_create``), as realistic INTERACTION_CREATE payloads built by the fake; every
REST call (responses, follow-ups, channel messages, downloads) goes over HTTP to the fake.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import zlib

import discord
import numpy as np
import pytest
from PIL import Image
from rq import Queue
from rq.serializers import JSONSerializer

from bot.chat_settings import RedisChatSettings
from bot.config import DiscordSettings
from bot.discord.app import MolbertBot, RedactTokens, sync_commands
from bot.discord.buttons import ActionButton, keyboard_view
from bot.discord.chat import chat_ref
from bot.discord.cogs.imagine import typed_options
from bot.discord.interactions import InteractionStore
from bot.discord.outbox import fit_file
from bot.queue import RedisJobs
from core.keys import discord_token_key, input_key, status_message_key
from core.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE, ChatRef, ClassifyJob, GenerateJob, ResultEvent, job_id_for
from handlers.access import AccessPolicy, parse_ids
from handlers.buttons import result_keyboard, with_feedback
from handlers.chat_settings import ChatSettings
from handlers.options import MAX_IMAGES, MAX_NEGATIVE_CHARS, MAX_SEED, parse_imagine
from handlers.ports import Button
from handlers.service import Molbert
from handlers.styles import STYLES
from handlers.texts import t
from tests import images
from tests.factories import make_molbert
from tests.fakes.discord_api import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, EPHEMERAL, FakeDiscordAPI
from workers.publish import publish

ACTION = re.compile(r"^[uvrmzfse]:")  # z: zoom out / pan; f: 👍/👎; s: ⤴; e: ✨
# the slash commands and the context menu
COMMAND_NAMES = {
    *("imagine", "classify", "rank", "labels", "queue", "cancel", "stats", "settings", "help", "forget"),
    *("Распознать", "Выбрать лучшую по запросу", "Нарисовать по картинке"),
    *("describe", "Описать"),  # /describe (#21)
    *("teach", "classes", "forget_class"),  # few-shot chat classes (tests/unit/bot/test_discord_teach.py)
}


@pytest.fixture
async def fake(monkeypatch):
    """The fake Discord, with discord.py's REST client pointed at it."""
    async with FakeDiscordAPI() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.base_url)
        yield fake


@pytest.fixture
def world(fake):
    """A guild with a channel, two users."""
    guild = fake.guild()
    return {
        "guild": guild,
        "channel": fake.text_channel(guild),
        "alice": fake.user("Алиса"),
        "bob": fake.user("Bob"),
    }


class SpyMolbert(Molbert):
    """The real use cases, recording button presses and what they answered."""

    def __init__(self, jobs, **parts) -> None:
        super().__init__(jobs, **parts)
        self.presses: list[tuple] = []

    async def press(self, chat, action, event_id, outbox, **kwargs):
        notice = await super().press(chat, action, event_id, outbox, **kwargs)
        self.presses.append((chat, action, event_id, notice))
        return notice


@pytest.fixture
async def start_bot(fake, aredis, redis_conn):
    """Start a logged-in bot (a frontend "process") with its result listener; call again for a restart."""
    bots: list[MolbertBot] = []

    async def start() -> MolbertBot:
        bot = MolbertBot(make_molbert(RedisJobs(redis_conn), kind=SpyMolbert), aredis, consumer="test")
        bot.listener.block_ms = 50
        await bot.__aenter__()
        await bot.login(fake.token)
        bots.append(bot)
        return bot

    yield start
    for bot in bots:
        if not bot.is_closed():
            await bot.close()


@pytest.fixture
async def bot(start_bot):
    return await start_bot()


@pytest.fixture
def run_worker(run_worker, no_progress_reports):
    """The shared worker (tests/conftest.py) with progress reports off: these tests assert the exact sequence of
    Discord calls."""
    return run_worker


def dispatch(bot: MolbertBot, payload: dict) -> None:
    """What the gateway reader does with an INTERACTION_CREATE event."""
    bot._connection.parse_interaction_create(payload)


def queued(redis_conn, queue: str) -> list[str]:
    return Queue(queue, connection=redis_conn, serializer=JSONSerializer).job_ids


def png_noise(side: int) -> bytes:
    """A PNG that does not compress (random pixels)."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def shown_queued(fake: FakeDiscordAPI, aredis, payload: dict):
    """Wait until the "queued" status fills the original response and is remembered for the listener."""
    status = await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳") and m)
    await until_async(lambda: aredis.exists(status_message_key(_job_id(payload))))
    return status


async def until_async(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.02)


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


# --- commands and their sync ---------------------------------------------------------------------------------


async def test_sync_registers_russian_commands_with_english_localisations(fake):
    settings = DiscordSettings(token=fake.token, api_url=fake.base_url)
    synced = await sync_commands(settings)
    commands = {(c["name"], c.get("type", 1)): c for c in fake.commands["global"]}
    assert {name for name, _ in commands} == COMMAND_NAMES
    assert {s.name for s in synced} == COMMAND_NAMES
    imagine = commands[("imagine", 1)]
    assert imagine["description"] == t("cmd_imagine", "ru")
    assert imagine["description_localizations"] == {"en-US": t("cmd_imagine", "en"), "en-GB": t("cmd_imagine", "en")}
    options = {o["name"]: o for o in imagine["options"]}
    assert list(options) == ["prompt", "aspect", "style", "negative", "seed", "count", "image", "enhance"]
    assert (options["prompt"]["type"], options["prompt"]["required"]) == (3, True)
    assert options["prompt"]["description"] == t("discord_opt_prompt", "ru")
    assert options["prompt"]["description_localizations"]["en-US"] == t("discord_opt_prompt", "en")
    assert [c["value"] for c in options["aspect"]["choices"]] == ["1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16"]
    assert options["style"]["autocomplete"] is True
    assert (options["negative"]["min_length"], options["negative"]["max_length"]) == (1, MAX_NEGATIVE_CHARS)
    assert (options["seed"]["type"], options["seed"]["min_value"], options["seed"]["max_value"]) == (4, 0, MAX_SEED)
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (1, MAX_IMAGES)
    assert not any(options[name].get("required") for name in ("aspect", "style", "negative", "seed", "count", "image"))
    assert options["image"]["type"] == 11  # an attachment
    assert (options["enhance"]["type"], options["enhance"].get("required", False)) == (5, False)  # ✨: a boolean
    classify = commands[("classify", 1)]
    assert [(o["name"], o["type"], o.get("required", False)) for o in classify["options"]] == [
        ("image", 11, True),
        ("labels", 3, False),
    ]
    menu = commands[("Распознать", 3)]
    assert menu["name_localizations"] == {"en-US": "Classify", "en-GB": "Classify"}
    for command in commands.values():
        assert command["contexts"] == [0, 1]  # guilds and DMs with the bot
        assert command["integration_types"] == [0]


async def test_sync_to_one_guild(fake, world):
    settings = DiscordSettings(token=fake.token, api_url=fake.base_url)
    await sync_commands(settings, guild_id=int(world["guild"]["id"]))
    assert {c["name"] for c in fake.commands[world["guild"]["id"]]} == COMMAND_NAMES
    assert "global" not in fake.commands


# --- /imagine: deferral, status, job ids ---------------------------------------------------------------------


async def test_imagine_defers_at_once_then_shows_the_queue_place_in_the_original_response(
    fake, world, bot, redis_conn, aredis
):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот в космосе"})
    dispatch(bot, payload)
    status = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m, what="the status")
    assert status.content == t("queued_next", "ru")
    [callback] = fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback")
    assert callback.json["type"] == DEFERRED_CHANNEL_MESSAGE and callback.status == 200
    job_id = job_id_for(chat_ref_of(bot, payload), "imagine")
    assert job_id == f"discord-imagine-{world['channel']['id']}-{payload['id']}"
    assert queued(redis_conn, GENERATE_QUEUE) == [job_id]
    ttl = await aredis.pttl(discord_token_key(payload["id"]))
    assert 14 * 60_000 < ttl <= 15 * 60_000, "the token is kept until just before Discord expires it"


async def test_typed_options_reach_the_job(fake, world, bot, redis_conn):
    options = {
        "prompt": "кот в космосе",
        "aspect": "16:9",
        "style": "акварель",
        "negative": "люди, текст",
        "seed": 42,
        "count": 4,
    }
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", options)
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳"))
    job = GenerateJob.model_validate(job_payload(redis_conn, _job_id(payload)))
    assert (job.prompt, job.aspect, job.style, job.negative, job.seed, job.num_images) == (
        "кот в космосе",
        (16, 9),
        "акварель",
        "люди, текст",
        42,
        4,
    )


async def test_a_style_the_handlers_do_not_know_is_refused(fake, world, bot, redis_conn):
    options = {"prompt": "кот", "style": "барокко"}
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", options)
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content.startswith("Стиля «барокко» нет")
    assert queued(redis_conn, GENERATE_QUEUE) == []


async def test_style_autocomplete_suggests_matching_styles(fake, world, bot):
    typing = fake.autocomplete(world["alice"], world["channel"], "imagine", {"prompt": "кот", "style": "ак"}, "style")
    dispatch(bot, typing)
    choices = await fake.wait_for(lambda: fake.interaction(typing).choices)
    assert [c["value"] for c in choices] == ["акварель"]
    assert choices[0]["name"] == "акварель (watercolor)"
    everything = fake.autocomplete(world["alice"], world["channel"], "imagine", {"prompt": "кот", "style": ""}, "style")
    dispatch(bot, everything)
    assert len(await fake.wait_for(lambda: fake.interaction(everything).choices)) == len(STYLES)


async def test_a_prompt_of_options_only_is_answered_in_discord_s_terms(fake, world, bot, redis_conn):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "--ar 16:9"})
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content == t("discord_imagine_empty", "ru") and "prompt" in answer.content
    assert queued(redis_conn, GENERATE_QUEUE) == []


def test_typed_options_use_option_names_the_handlers_parse():
    fields = typed_options(aspect="3:2", style="аниме", negative="люди", seed=7, count=2)
    request = parse_imagine("кот", fields)
    assert (request.aspect, request.style.name, request.negative, request.seed, request.count) == (
        (3, 2),
        "аниме",
        "люди",
        7,
        2,
    )
    assert typed_options() == {}


async def test_a_typed_negative_is_taken_as_typed_not_as_options(fake, world, bot, redis_conn):
    options = {"prompt": "маяк --ar 16:9", "negative": "люди --n 4 —лого"}
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", options)
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳"))
    job = GenerateJob.model_validate(job_payload(redis_conn, _job_id(payload)))
    assert (job.negative, job.num_images, job.aspect) == ("люди --n 4 —лого", None, (16, 9))  # the worker decides


async def test_an_option_both_typed_into_the_prompt_and_filled_in_is_refused(fake, world, bot, redis_conn):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот --seed 1", "seed": 5})
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content == t("option_twice", "ru", option="--seed")
    assert queued(redis_conn, GENERATE_QUEUE) == []


async def test_a_repeated_interaction_makes_no_second_job(fake, world, bot, redis_conn):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "маяк"})
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading, what="the status")
    dispatch(bot, payload)  # e.g. replayed after a gateway RESUME
    await fake.wait_for(lambda: len(fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback")) == 2)
    await asyncio.sleep(0.2)
    assert [c.status for c in fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback")] == [200, 400]
    assert len(queued(redis_conn, GENERATE_QUEUE)) == 1
    assert fake.original(payload).content == t("queued_next", "ru")


async def test_the_same_event_through_the_use_case_twice_queues_once(fake, world, bot, redis_conn):
    """Even if Discord accepted both acknowledgements, the job id (from the interaction id) is taken."""
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "маяк"})
    first = discord.Interaction(data=payload, state=bot._connection)
    await bot.get_cog("Imagine").imagine.callback(bot.get_cog("Imagine"), first, prompt="маяк")
    fake.interaction(payload).response_type = None  # pretend Discord forgot the first acknowledgement
    second = discord.Interaction(data=payload, state=bot._connection)
    await bot.get_cog("Imagine").imagine.callback(bot.get_cog("Imagine"), second, prompt="маяк")
    assert len(queued(redis_conn, GENERATE_QUEUE)) == 1


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [("кот " * 1250, "Описание слишком длинное"), ("\u200b\u200b", "Напишите в поле prompt, что нарисовать")],
    ids=["5000-chars", "zero-width"],
)
async def test_bad_prompts_are_answered_in_the_original_response_and_queue_nothing(
    fake, world, bot, redis_conn, prompt, expected
):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": prompt})
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert expected in answer.content
    assert queued(redis_conn, GENERATE_QUEUE) == []


async def test_english_clients_get_english(fake, world, bot):
    payload = fake.slash_command(world["bob"], world["channel"], "imagine", {"prompt": "   "}, locale="en-US")
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content == t("imagine_empty", "en", platform="discord")


async def test_help_is_shown_only_to_the_asker(fake, world, bot):
    payload = fake.slash_command(world["alice"], world["channel"], "help")
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.ephemeral
    assert answer.content == t("discord_help", "ru")


async def test_help_and_the_menus_refusal_follow_the_channels_language(fake, world, bot, redis_conn):
    bot.molbert.settings_store = RedisChatSettings(redis_conn)
    await RedisChatSettings(redis_conn).save(channel_settings_ref(world), "lang", "en")
    asked = fake.slash_command(world["alice"], world["channel"], "help", locale="ru")
    dispatch(bot, asked)
    helped = await fake.wait_for(lambda: (m := fake.original(asked)) and not m.loading and m)
    assert helped.content == t("discord_help", "en")
    no_pictures = fake.user_message(world["channel"], world["bob"], "просто текст")
    menu = fake.message_command(world["alice"], world["channel"], "Распознать", no_pictures)
    dispatch(bot, menu)
    refused = await fake.wait_for(lambda: (m := fake.original(menu)) and not m.loading and m)
    assert refused.content == t("discord_no_images", "en")


async def test_threads_and_dms_are_answered_where_asked(fake, world, bot, redis_conn):
    thread = fake.thread(world["channel"], world["alice"])
    in_thread = fake.slash_command(world["alice"], thread, "imagine", {"prompt": "ветка сирени"})
    dm = fake.dm_channel(world["bob"])
    in_dm = fake.slash_command(world["bob"], dm, "imagine", {"prompt": "полярная сова"})
    dispatch(bot, in_thread)
    dispatch(bot, in_dm)
    for payload in (in_thread, in_dm):
        await fake.wait_for(lambda p=payload: (m := fake.original(p)) and not m.loading)
    assert fake.original(in_thread).channel_id == int(thread["id"])
    assert fake.original(in_dm).channel_id == int(dm["id"])
    thread_chat = chat_ref_of(bot, in_thread)
    assert (thread_chat.chat_id, thread_chat.thread_id) == (int(thread["id"]), int(thread["id"]))
    assert thread_chat.parent_ids == (int(world["channel"]["id"]), int(world["guild"]["id"]))
    dm_chat = chat_ref_of(bot, in_dm)
    assert (dm_chat.chat_id, dm_chat.user_id, dm_chat.thread_id) == (int(dm["id"]), int(world["bob"]["id"]), None)
    assert dm_chat.parent_ids == ()
    assert sorted(queued(redis_conn, GENERATE_QUEUE)) == sorted(
        [job_id_for(thread_chat, "imagine"), job_id_for(dm_chat, "imagine")]
    )


async def imagine_answer(fake, bot, user, channel) -> str:
    """``/imagine кот`` by ``user`` in ``channel``; the first answer the user sees."""
    payload = fake.slash_command(user, channel, "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    return (await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)).content


@pytest.mark.parametrize("listed", ["channel", "guild"])
async def test_a_denied_channel_or_server_stays_denied_in_its_threads(fake, world, bot, redis_conn, listed):
    bot.molbert.access = AccessPolicy(deny_chats=parse_ids(f"discord:{world[listed]['id']}"))
    thread = fake.thread(world["channel"], world["alice"])
    for where in (world["channel"], thread):
        assert await imagine_answer(fake, bot, world["alice"], where) == t("access_denied", "ru")
    assert queued(redis_conn, GENERATE_QUEUE) == []


@pytest.mark.parametrize("listed", ["channel", "guild"])
async def test_an_allowed_channel_or_server_is_allowed_in_its_threads(fake, world, bot, redis_conn, listed):
    bot.molbert.access = AccessPolicy(allow_chats=parse_ids(f"discord:{world[listed]['id']}"))
    thread = fake.thread(world["channel"], world["alice"])
    for where in (world["channel"], thread):
        assert (await imagine_answer(fake, bot, world["alice"], where)).startswith("⏳")
    assert len(queued(redis_conn, GENERATE_QUEUE)) == 2
    assert await imagine_answer(fake, bot, world["alice"], fake.dm_channel(world["alice"])) == t("access_denied", "ru")


async def test_a_channels_settings_and_labels_apply_in_its_threads(fake, world, bot, redis_conn):
    bot.molbert.settings_store = RedisChatSettings(redis_conn)
    channel = ChatRef(platform="discord", chat_id=int(world["channel"]["id"]), user_id=0)
    await RedisChatSettings(redis_conn).save(channel, "style", "аниме")
    await RedisChatSettings(redis_conn).set_labels(channel, ["кошка", "собака"])
    thread = fake.thread(world["channel"], world["alice"])
    payload = fake.slash_command(world["alice"], thread, "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳"))
    assert GenerateJob.model_validate(job_payload(redis_conn, _job_id(payload))).style == "аниме"
    assert await RedisChatSettings(redis_conn).labels(chat_ref_of(bot, payload)) == ["кошка", "собака"]


# --- classification: attachments ------------------------------------------------------------------------------


async def test_classify_downloads_the_attachment_and_queues_it_with_the_labels(fake, world, bot, redis_conn):
    attachment = fake.upload(world["channel"], images.png(120, 90), "кот.png", "image/png")
    options = {"image": attachment, "labels": "кошка, собака; медведь"}
    payload = fake.slash_command(world["alice"], world["channel"], "classify", options)
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳"))
    job_id = f"discord-classify-{world['channel']['id']}-{payload['id']}"
    assert queued(redis_conn, CLASSIFY_QUEUE) == [job_id]
    stored = Image.open(io.BytesIO(redis_conn.get(input_key(job_id))))
    assert (stored.format, stored.size) == ("JPEG", (120, 90))
    job = job_payload(redis_conn, job_id)
    assert ClassifyJob.model_validate(job).labels == ["кошка", "собака", "медведь"]


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "size", "expected"),
    [
        (images.PDF, "doc.pdf", "application/pdf", None, "Это не похоже на картинку (application/pdf)"),
        (images.truncated(images.png(200, 200)), "broken.png", "image/png", None, "Не получилось открыть картинку"),
        (images.png(10, 10), "huge.png", "image/png", 30 * 2**20, "Файл слишком большой (30.0 МБ)"),
    ],
    ids=["pdf", "truncated-png", "over-20-mb"],
)
async def test_bad_attachments_are_refused_without_a_job(
    fake, world, bot, redis_conn, data, filename, content_type, size, expected
):
    attachment = fake.upload(world["channel"], data, filename, content_type)
    if size is not None:
        attachment["size"] = size
    payload = fake.slash_command(world["alice"], world["channel"], "classify", {"image": attachment})
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert expected in answer.content
    assert queued(redis_conn, CLASSIFY_QUEUE) == []
    downloads = [c for c in fake.calls if "/attachments/" in c.path]
    assert downloads == [], "nothing is downloaded through the API; the CDN serves files"


async def test_context_menu_classifies_each_picture_of_a_message(fake, world, bot, redis_conn):
    channel = world["channel"]
    pictures = [
        fake.upload(channel, images.png(40, 40), "a.png", "image/png"),
        fake.upload(channel, images.jpeg_rotated(), "b.jpg", None),  # no content type: the name says image
        fake.upload(channel, images.PDF, "c.pdf", "application/pdf"),
    ]
    message = fake.user_message(channel, world["bob"], "смотрите!", pictures)
    payload = fake.message_command(world["alice"], channel, "Распознать", message)
    dispatch(bot, payload)
    await fake.wait_for(
        lambda: len(queued(redis_conn, CLASSIFY_QUEUE)) == 2 and len(fake.interaction(payload).followups)
    )
    interaction_id = payload["id"]
    prefix = f"discord-classify-{channel['id']}-"
    assert queued(redis_conn, CLASSIFY_QUEUE) == [prefix + interaction_id, prefix + interaction_id + "_1"]
    assert fake.original(payload).content.startswith("⏳")
    [followup] = [fake.messages_by_id[i] for i in fake.interaction(payload).followups]
    assert followup.content.startswith("⏳")


async def test_context_menu_answers_all_four_pictures_under_the_default_limits(fake, world, bot, redis_conn):
    """One action, four pictures: one request for the limits; a picture the CDN lost is said, the rest go on."""
    from bot.limits import RedisAdmission

    bot.molbert.admission = RedisAdmission(redis_conn)  # two jobs at a time, six a minute
    channel = world["channel"]
    pictures = [fake.upload(channel, images.png(30 + n, 30), f"{n}.png", "image/png") for n in range(4)]
    del fake.uploads[pictures[1]["url"].split(str(fake.port))[1]]  # gone from the CDN
    message = fake.user_message(channel, world["bob"], "", pictures)
    payload = fake.message_command(world["alice"], channel, "Распознать", message)
    dispatch(bot, payload)
    await fake.wait_for(lambda: len(fake.interaction(payload).followups) == 3)
    prefix = f"discord-classify-{channel['id']}-{payload['id']}"
    assert queued(redis_conn, CLASSIFY_QUEUE) == [prefix, prefix + "_2", prefix + "_3"]
    answers = [fake.original(payload).content] + [
        fake.messages_by_id[i].content for i in fake.interaction(payload).followups
    ]
    assert answers[1] == t("download_failed", "ru")
    assert all(answer.startswith("⏳") for answer in answers[:1] + answers[2:])


async def test_context_menu_on_a_message_without_pictures(fake, world, bot, redis_conn):
    message = fake.user_message(world["channel"], world["bob"], "просто текст")
    payload = fake.message_command(world["alice"], world["channel"], "Распознать", message, locale="en-GB")
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content == t("discord_no_images", "en")
    assert queued(redis_conn, CLASSIFY_QUEUE) == []


# --- delivery: follow-up while the token lives, the channel afterwards ----------------------------------------


async def test_imagine_result_is_a_follow_up_with_buttons_and_the_status_goes(fake, world, bot, run_worker, aredis):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот в космосе"})
    dispatch(bot, payload)
    status = await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    assert picture.via == "followup"
    assert picture.content.startswith("🎨 кот в космосе")
    assert Image.open(io.BytesIO(picture.files[0].data)).format == "PNG"
    assert picture.custom_ids and all(ACTION.match(custom_id) for custom_id in picture.custom_ids)
    await until(lambda: status.deleted)
    hooks = [(c.method, c.path.split("/")[-1]) for c in fake.calls if c.path.startswith(("/webhooks", "/interactions"))]
    assert hooks == [("POST", "callback"), ("PATCH", "@original"), ("POST", _token(payload)), ("DELETE", "@original")]
    assert not [c for c in fake.calls if c.path.startswith("/channels/")], "no channel permission was needed"


async def test_classification_result_is_edited_into_the_original_response(fake, world, bot, run_worker, aredis):
    attachment = fake.upload(world["channel"], images.png(64, 64), "x.png", "image/png")
    options = {"image": attachment, "labels": "кошка, собака"}
    payload = fake.slash_command(world["alice"], world["channel"], "classify", options)
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and "%" in m.content and m, timeout=30)
    assert "кошка" in answer.content and "собака" in answer.content  # the user's labels, ranked
    assert answer.history[0].startswith("⏳")


async def test_after_the_token_expires_results_go_to_the_channel_as_a_reply_with_a_mention(
    fake, world, bot, run_worker, aredis
):
    channel, alice = world["channel"], world["alice"]
    payload = fake.slash_command(alice, channel, "imagine", {"prompt": "маяк на скале"})
    dispatch(bot, payload)
    status = await shown_queued(fake, aredis, payload)
    fake.advance(16 * 60)  # the worker was busy: the interaction token died meanwhile
    run_worker()
    picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    assert picture.via == "channel"
    assert picture.content.startswith(f"<@{alice['id']}> 🎨 маяк на скале")
    assert picture.mentions == [int(alice["id"])]
    assert picture.reference == status.id, "a reply to the original response"
    assert picture.custom_ids and all(ACTION.match(custom_id) for custom_id in picture.custom_ids)
    await until(lambda: status.deleted)
    sequence = [(c.method, _shape(c.path), c.status) for c in fake.calls[2:]]
    assert sequence == [
        ("POST", "/interactions/{id}/{token}/callback", 200),  # deferred within 3 s
        ("PATCH", "/webhooks/{id}/{token}/messages/@original", 200),  # "queued" into the original response
        ("POST", "/webhooks/{id}/{token}", 401),  # the follow-up is refused: the token expired
        ("POST", "/channels/{id}/messages", 200),  # so the bot posts in the channel itself
        ("DELETE", "/channels/{id}/messages/{id}", 204),  # and removes the status as itself
    ]


async def test_a_token_that_dies_right_after_the_acknowledgement_leaves_no_broken_reply(
    fake, world, bot, run_worker, aredis
):
    """The original response was never filled, so there is no message to reply to: the channel posts mention the
    user and carry no message reference (the interaction's id is not a message's)."""
    channel, alice = world["channel"], world["alice"]
    # the "queued" edit is still under way when the token dies
    fake.slow_down("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", 1.0)
    payload = fake.slash_command(alice, channel, "imagine", {"prompt": "маяк на скале"})
    dispatch(bot, payload)
    await fake.wait_for(lambda: fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback"), timeout=10)
    fake.advance(16 * 60)
    status = await fake.wait_for_message(channel["id"], lambda m: m.content.startswith(f"<@{alice['id']}> ⏳"))
    await until_async(lambda: aredis.exists(status_message_key(_job_id(payload))))
    run_worker()
    picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    assert picture.content.startswith(f"<@{alice['id']}> 🎨 маяк на скале")
    assert picture.mentions == [int(alice["id"])]
    posts = [c.json for c in fake.calls if c.method == "POST" and _shape(c.path) == "/channels/{id}/messages"]
    assert len(posts) == 2 and not [post for post in posts if post.get("message_reference")], posts
    await until(lambda: status.deleted)


async def test_a_status_sent_by_dm_is_deleted_from_the_dm_when_the_result_comes(fake, world, bot, run_worker, aredis):
    """The token died right after the acknowledgement and the bot may not post in the channel: the "queued" status
    went to the user's DMs, and it is that DM message that the result removes."""
    channel, alice = world["channel"], world["alice"]
    fake.forbid(channel)
    fake.slow_down("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", 1.0)
    payload = fake.slash_command(alice, channel, "imagine", {"prompt": "сова"})
    dispatch(bot, payload)
    await fake.wait_for(lambda: fake.calls_to("POST", r"/interactions/\d+/[^/]+/callback"), timeout=10)
    fake.advance(16 * 60)
    dm = fake.dm_channel(alice)
    status = await fake.wait_for_message(dm["id"], lambda m: m.content.startswith("⏳"))
    await until_async(lambda: aredis.exists(status_message_key(_job_id(payload))))
    run_worker()
    await fake.wait_for_message(dm["id"], lambda m: m.files, timeout=30)
    await until(lambda: status.deleted)


async def test_a_status_edit_after_expiry_uses_the_channel(fake, world, bot, run_worker, aredis):
    attachment = fake.upload(world["channel"], images.png(64, 64), "x.png", "image/png")
    payload = fake.slash_command(world["alice"], world["channel"], "classify", {"image": attachment})
    dispatch(bot, payload)
    status = await shown_queued(fake, aredis, payload)
    fake.advance(20 * 60)
    run_worker()
    await fake.wait_for(lambda: "%" in status.content, timeout=30)
    edits = [(c.method, _shape(c.path), c.status) for c in fake.calls if c.method == "PATCH"]
    assert edits[-2:] == [
        ("PATCH", "/webhooks/{id}/{token}/messages/@original", 401),
        ("PATCH", "/channels/{id}/messages/{id}", 200),
    ]


async def queued_then_shut_out(fake, bot, aredis, user, channel, prompt: str) -> dict:
    """``/imagine`` is queued, then the interaction's token expires and the bot loses the channel; the payload."""
    payload = fake.slash_command(user, channel, "imagine", {"prompt": prompt})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    fake.advance(16 * 60)
    fake.forbid(channel)
    return payload


async def test_a_channel_the_bot_cannot_post_in_gets_the_result_by_dm(fake, world, bot, run_worker, aredis):
    alice = world["alice"]
    await queued_then_shut_out(fake, bot, aredis, alice, world["channel"], "сова")
    run_worker()
    dm = fake.dm_channel(alice)
    picture = await fake.wait_for_message(dm["id"], lambda m: m.files, timeout=30)
    assert picture.content.startswith("🎨 сова"), "no mention of the reader in their own DMs"


def publish_progress_then_failure(redis_conn, chat: ChatRef, job_id: str) -> str:
    """Three progress events and then the job's result (a failure, so no images are needed); return its text."""
    for share in (0.25, 0.5, 0.75):
        publish(redis_conn, ResultEvent(job_id=job_id, kind="progress", chat=chat, progress=share, seconds=3))
    publish(redis_conn, ResultEvent(job_id=job_id, kind="imagine", chat=chat, ok=False, error_ref="ab12cd34"))
    return t("job_failed", "ru", ref="ab12cd34")


async def test_progress_posts_nothing_new_once_the_status_was_deleted(fake, world, bot, redis_conn, aredis):
    """A moderator deleted the "queued" message: progress is not posted anew on every tick; the result comes once."""
    channel = world["channel"]
    payload = fake.slash_command(world["alice"], channel, "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    status = await shown_queued(fake, aredis, payload)
    status.deleted = True
    failure = publish_progress_then_failure(redis_conn, chat_ref_of(bot, payload), _job_id(payload))
    await fake.wait_for_message(channel["id"], lambda m: m.content == failure)
    assert [m.content for m in fake.messages(channel["id"])] == [failure]


async def test_progress_sends_no_dms_once_the_status_cannot_be_edited(fake, world, bot, redis_conn, aredis):
    """After the token expired, in a channel the bot may not post in: progress is dropped, the result goes by DM."""
    alice = world["alice"]
    payload = await queued_then_shut_out(fake, bot, aredis, alice, world["channel"], "кот")
    failure = publish_progress_then_failure(redis_conn, chat_ref_of(bot, payload), _job_id(payload))
    dm = fake.dm_channel(alice)
    await fake.wait_for_message(dm["id"], lambda m: m.content.endswith(failure))
    assert [m.content for m in fake.messages(dm["id"])] == [failure]


async def test_a_fast_result_that_arrives_before_the_status_fills_the_original_response(fake, world, bot, aredis):
    """The listener and the frontend race for the original response; the atomic claim keeps both messages."""
    payload = fake.slash_command(world["alice"], world["channel"], "help")
    interaction = discord.Interaction(data=payload, state=bot._connection)
    await interaction.response.defer(thinking=True)
    await bot.interactions.remember(interaction)
    chat = chat_ref(interaction)
    result_id = await bot.outbox.send_text(chat, "результат")  # the listener got there first
    status_id = await bot.outbox.send_text(chat, "⏳")  # then the frontend's status
    assert fake.original(payload).id == result_id and fake.original(payload).content == "результат"
    assert fake.messages_by_id[status_id].via == "followup"
    await bot.outbox.delete_message(chat, status_id)  # remember_status_message said "delivered"
    assert fake.messages_by_id[status_id].deleted and not fake.original(payload).deleted


async def test_racing_sends_never_overwrite_each_other(fake, world, bot):
    """Whoever loses the claim waits until the original is filled: a follow-up sent while the original is still
    "thinking…" would replace it, and the winner's edit would then overwrite that message."""
    payload = fake.slash_command(world["alice"], world["channel"], "help")
    interaction = discord.Interaction(data=payload, state=bot._connection)
    await interaction.response.defer(thinking=True)
    await bot.interactions.remember(interaction)
    chat = chat_ref(interaction)
    fake.slow_down("PATCH", r"/webhooks/\d+/[^/]+/messages/@original", 0.3)  # the winner's edit is slow to land
    first, second = await asyncio.gather(
        bot.outbox.send_text(chat, "первое"),
        in_another_process(lambda: bot.outbox.send_text(chat, "второе")),
    )
    contents = {fake.messages_by_id[first].content, fake.messages_by_id[second].content}
    assert contents == {"первое", "второе"} and first != second
    assert len(fake.original(payload).history) == 1, "the original response was filled once, never overwritten"


async def test_an_unexpected_error_gets_an_apology_not_a_stuck_thinking(fake, world, bot, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.molbert, "imagine", broken)
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    answer = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    assert answer.content == t("discord_error", "ru")


def test_the_discord_frontend_imports_no_torch():
    from tests.unit.test_boundaries import imported_after

    loaded = imported_after("bot.discord.app, bot.discord.cogs.imagine, bot.discord.cogs.classify")
    assert "discord" in loaded
    assert not loaded & {"torch", "diffusers", "transformers", "aiogram"}


async def test_a_restarted_frontend_edits_the_original_response_with_the_stored_token(fake, world, start_bot):
    first = await start_bot()
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(first, payload)
    status = await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)
    await first.close()
    second = await start_bot()  # knows nothing of the interaction but what Redis kept
    chat = chat_ref(discord.Interaction(data=payload, state=second._connection))
    await second.outbox.edit_text(chat, status.id, "готово")
    assert status.content == "готово"
    assert fake.calls[-1].path.endswith("/messages/@original") and fake.calls[-1].status == 200


async def test_files_are_fitted_to_the_interactions_upload_limit(fake, world, bot):
    payload = fake.slash_command(world["alice"], world["channel"], "help")
    payload["attachment_size_limit"] = 60_000
    interaction = discord.Interaction(data=payload, state=bot._connection)
    await interaction.response.defer(thinking=True)
    await bot.interactions.remember(interaction)
    big = png_noise(256)
    assert len(big) > 60_000
    message_id = await bot.outbox.send_photo(chat_ref(interaction), big, "большая")
    [upload] = fake.messages_by_id[message_id].files
    assert len(upload.data) <= 60_000
    assert upload.filename == "molbert.jpg" and Image.open(io.BytesIO(upload.data)).format == "JPEG"


def test_fit_file_keeps_small_files_and_shrinks_big_images():
    small = images.png(10, 10)
    assert fit_file(small, "a.png", 10_000) == (small, "a.png")
    data, name = fit_file(png_noise(300), "a.png", 30_000)
    assert len(data) <= 30_000 and name == "a.jpg"
    with pytest.raises(ValueError, match="upload limit"):
        fit_file(b"\x00" * 5000, "blob.bin", 100)


# --- buttons ----------------------------------------------------------------------------------------------------


async def test_buttons_work_after_a_restart_and_answer_only_the_presser(
    fake, world, start_bot, run_worker, redis_conn, aredis
):
    first = await start_bot()
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот в сапогах"})
    dispatch(first, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    await first.close()

    second = await start_bot()  # a new process: no views in memory, only the registered DynamicItem class
    custom_id = picture.custom_ids[0]
    press = fake.press_button(world["alice"], picture, custom_id)
    dispatch(second, press)
    answer = await fake.wait_for(lambda: fake.interaction(press).original and fake.original(press))
    await until(lambda: second.molbert.presses)  # answered first; the press ends after U's upload
    [(chat, action, event_id, notice)] = second.molbert.presses
    assert (chat.platform, chat.chat_id, chat.user_id) == (
        "discord",
        int(world["channel"]["id"]),
        int(world["alice"]["id"]),
    )
    assert (chat.message_id, action, event_id) == (picture.id, custom_id, press["id"])
    assert answer.ephemeral and answer.content == notice
    assert fake.calls_to("POST", rf"/interactions/{press['id']}/[^/]+/callback")[0].json["data"]["flags"] == EPHEMERAL
    uploads = [m for m in fake.messages(world["channel"]["id"]) if m.files and m.id != picture.id]
    assert len(uploads) == 1, "U1 posts the full-size PNG once (a Discord attachment is not recompressed)"

    public = lambda: [m for m in fake.messages(world["channel"]["id"]) if not m.ephemeral]  # noqa: E731
    before = len(public())
    other = fake.press_button(world["bob"], picture, custom_id)  # only the requester may use the buttons
    dispatch(second, other)
    refused = await fake.wait_for(lambda: fake.interaction(other).original and fake.original(other))
    assert refused.ephemeral and refused.content == t("button_not_yours", "ru")
    assert len(public()) == before, "nothing was posted for bob's press"


async def test_a_reroll_status_in_the_channel_names_the_user_without_pinging(fake, world, bot, run_worker, aredis):
    """The status is deleted when the picture comes: a ping for it would lead nowhere (the result pings)."""
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    reroll = next(custom_id for custom_id in picture.custom_ids if custom_id.startswith("r:"))
    dispatch(bot, fake.press_button(world["alice"], picture, reroll))
    status = await fake.wait_for_message(world["channel"]["id"], lambda m: m.via == "channel" and "⏳" in m.content)
    assert status.content.startswith(f"<@{world['alice']['id']}> ⏳")
    [posted] = [c for c in fake.calls_to("POST", r"/channels/\d+/messages") if "⏳" in c.json.get("content", "")]
    assert posted.json["allowed_mentions"]["users"] == []


async def test_zoom_out_on_discord_keeps_the_picture_in_the_middle(fake, world, bot, run_worker, aredis):
    """🔍 ×2 under a one-picture result: a live button; its press queues the zoom, whose picture has the original
    scaled down in its middle and zoom buttons of its own."""
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "маяк", "count": 1})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    zoom = next(custom_id for custom_id in picture.custom_ids if custom_id.endswith(":o2"))
    press = fake.press_button(world["alice"], picture, zoom)
    dispatch(bot, press)
    answer = await fake.wait_for(lambda: fake.interaction(press).original and fake.original(press))
    assert answer.content == t("button_accepted", "ru")
    await fake.wait_for_message(world["channel"]["id"], lambda m: m.via == "channel" and "⏳" in m.content)  # queued
    run_worker()
    zoomed = await fake.wait_for_message(
        world["channel"]["id"], lambda m: m.files and m.id != picture.id and not m.ephemeral, timeout=30
    )
    assert t("outpaint_done_o2", "ru") in zoomed.content
    assert any(custom_id.startswith("z:") for custom_id in zoomed.custom_ids)
    original = Image.open(io.BytesIO(picture.files[0].data)).convert("RGB")
    result = Image.open(io.BytesIO(zoomed.files[0].data)).convert("RGB")
    width, height = original.size
    half = original.resize((width // 2, height // 2), Image.Resampling.LANCZOS).crop(
        (4, 4, width // 2 - 4, height // 2 - 4)
    )
    middle = result.crop((width // 4 + 4, height // 4 + 4, 3 * width // 4 - 4, 3 * height // 4 - 4))
    assert np.abs(np.asarray(middle, dtype=np.int32) - np.asarray(half, dtype=np.int32)).max() <= 2


async def test_a_press_is_answered_before_its_uploads(fake, world, bot, run_worker, aredis):
    """U posts the full-size picture after the presser was told so: the interaction's response comes first (before
    this change it waited up to 1.5 s for the uploads, then answered)."""
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    upscale = next(custom_id for custom_id in picture.custom_ids if custom_id.startswith("u:"))
    press = fake.press_button(world["alice"], picture, upscale)
    dispatch(bot, press)
    await fake.wait_for_message(world["channel"]["id"], lambda m: m.files and m.id != picture.id, timeout=10)
    await fake.wait_for(lambda: fake.calls_to("POST", rf"/interactions/{press['id']}/[^/]+/callback"))
    calls = [(call.method, call.path, bool(call.files)) for call in fake.calls]
    callback = next(i for i, (_, path, _) in enumerate(calls) if path.startswith(f"/interactions/{press['id']}/"))
    upload = max(i for i, (method, path, files) in enumerate(calls) if method == "POST" and files)
    assert callback < upload, calls[callback:]
    response = fake.calls[callback].json
    assert response["type"] == CHANNEL_MESSAGE and response["data"]["content"] == t("button_sending", "ru")


async def test_a_slow_press_is_deferred_then_answered(fake, world, bot, monkeypatch):
    async def slow_press(chat, action, event_id, outbox, **kwargs):
        await asyncio.sleep(2)
        return "готово"

    monkeypatch.setattr(bot.molbert, "press", slow_press)
    message = fake.user_message(world["channel"], fake.bot_user, "картинка")
    message.components = keyboard_components([[Button("🔄", "r:discord-imagine-1-2")]])
    press = fake.press_button(world["bob"], message, "r:discord-imagine-1-2")
    dispatch(bot, press)
    answer = await fake.wait_for(lambda: (m := fake.original(press)) and not m.loading and m, timeout=5)
    assert answer.ephemeral and answer.content == "готово"
    callback = fake.calls_to("POST", rf"/interactions/{press['id']}/[^/]+/callback")[0]
    assert callback.json["type"] == DEFERRED_CHANNEL_MESSAGE and callback.status == 200


def test_keyboard_view_makes_persistent_dynamic_buttons():
    view = keyboard_view([[Button("U1", "u:job:0"), Button("U2", "u:job:1")], [Button("🔄", "r:job")]])
    assert view.timeout is None and view.is_persistent()
    assert all(isinstance(item, ActionButton) for item in view.children)
    rows = view.to_components()
    assert [[c["custom_id"] for c in row["components"]] for row in rows] == [["u:job:0", "u:job:1"], ["r:job"]]
    assert [[c["label"] for c in row["components"]] for row in rows] == [["U1", "U2"], ["🔄"]]
    assert keyboard_view(None) is None and keyboard_view([]) is None


@pytest.mark.parametrize("count", [1, 4])
def test_subtle_and_strong_variation_buttons_are_live_discord_buttons(count):
    view = keyboard_view(result_keyboard("discord-imagine-1-2", count))
    rows = view.to_components()
    labels = [[c["label"] for c in row["components"]] for row in rows]
    assert ["V1", "~1"] in labels if count == 1 else ["~1", "~2", "~3", "~4"] in labels
    assert all(isinstance(item, ActionButton) and not item.item.disabled for item in view.children)
    assert {item.action for item in view.children} >= {"v:discord-imagine-1-2:0:l", "v:discord-imagine-1-2:0:h"}


def test_zoom_and_pan_buttons_are_live_discord_buttons_within_its_five_rows():
    keyboard = with_feedback(result_keyboard("discord-imagine-1-2", 1, zoom=True), "discord-imagine-1-2")
    view = keyboard_view(keyboard)
    labels = [[c["label"] for c in row["components"]] for row in view.to_components()]
    assert labels[2:4] == [["🔍 ×1.5", "🔍 ×2", "⤴ ×2", "⤴ ×4"], ["⬅️", "➡️", "⬆️", "⬇️"]]
    assert len(labels) == 5 and labels[-1] == ["🔄", "🖋", "👍", "👎"]  # every button shown: Discord has five rows
    assert all(isinstance(item, ActionButton) and not item.item.disabled for item in view.children)
    assert "z:discord-imagine-1-2:0:o15" in {item.action for item in view.children}


# --- secrets -------------------------------------------------------------------------------------------------------


async def test_interaction_tokens_never_reach_the_logs(fake, world, bot, caplog, run_worker, aredis):
    caplog.set_level(logging.DEBUG)
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    fake.advance(16 * 60)
    run_worker()
    await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    assert payload["token"] not in caplog.text
    assert fake.token not in caplog.text


def test_token_redaction_in_library_log_lines():
    record = logging.LogRecord(
        "discord.http", logging.WARNING, __file__, 1, "%s %s responded with 429", ("POST", _URL_WITH_TOKEN), None
    )
    RedactTokens().filter(record)
    assert (
        record.getMessage() == "POST https://discord.com/api/v10/interactions/123/<token>/callback responded with 429"
    )


async def test_store_keeps_no_token_past_its_life(fake, world, bot, aredis):
    payload = fake.slash_command(world["alice"], world["channel"], "help")
    interaction = discord.Interaction(data=payload, state=bot._connection)
    late = InteractionStore(aredis, clock=lambda: interaction.created_at.timestamp() + 15 * 60)
    await late.remember(interaction)
    assert await late.get(interaction.id) is None
    assert await aredis.exists(discord_token_key(interaction.id)) == 0


_URL_WITH_TOKEN = "https://discord.com/api/v10/interactions/123/aW50ZXJhY3Rpb24secret-token/callback"


async def in_another_process(call):
    """Run ``call()`` with its own webhook adapter, as another frontend process would: discord.py serialises the
    requests of one interaction token within a process, so only separate processes can race."""
    from discord.webhook.async_ import AsyncWebhookAdapter, async_context

    async def run():
        async_context.set(AsyncWebhookAdapter())
        return await call()

    return await asyncio.create_task(run())


def chat_ref_of(bot: MolbertBot, payload: dict):
    return chat_ref(discord.Interaction(data=payload, state=bot._connection))


def job_payload(redis_conn, job_id: str) -> dict:
    _func, _instance, args, _kwargs = json.loads(zlib.decompress(redis_conn.hget(f"rq:job:{job_id}", "data")))
    return args[0]


def keyboard_components(buttons) -> list[dict]:
    return keyboard_view(buttons).to_components()


def _job_id(payload: dict) -> str:
    kind = "imagine" if payload["data"]["name"] == "imagine" else "classify"
    return f"discord-{kind}-{payload['channel_id']}-{payload['id']}"


def _token(payload: dict) -> str:
    return payload["token"]


def _shape(path: str) -> str:
    """A request path with ids and tokens generalised."""
    path = re.sub(r"/(interactions|webhooks)/\d+/[^/]+", r"/\1/{id}/{token}", path)
    return re.sub(r"/\d+", "/{id}", path)


# --- /settings: Manage Server members change the channel's settings in an ephemeral menu ---------------------


async def open_settings(fake: FakeDiscordAPI, bot: MolbertBot, user, channel, locale: str = "ru"):
    """``/settings`` by ``user``; returns the (ephemeral) answer once it is shown."""
    payload = fake.slash_command(user, channel, "settings", locale=locale)
    dispatch(bot, payload)
    return await fake.wait_for(lambda: (m := fake.original(payload)) and not m.loading and m)


async def press_in_menu(fake: FakeDiscordAPI, bot: MolbertBot, user, message, custom_id: str) -> dict:
    """``user`` presses a settings button under ``message`` and the bot answers the press."""
    payload = fake.press_button(user, message, custom_id)
    dispatch(bot, payload)
    await fake.wait_for(lambda: fake.interaction(payload).response_type is not None, what="the press answered")
    return payload


def channel_settings_ref(world) -> ChatRef:
    """The channel's chat (settings are per channel; the user does not matter)."""
    return ChatRef(platform="discord", chat_id=int(world["channel"]["id"]), user_id=0)


async def test_manage_server_members_change_settings_in_an_ephemeral_menu(fake, world, bot, redis_conn):
    bot.molbert.settings_store = RedisChatSettings(redis_conn)
    fake.grant_manage_guild(world["guild"], world["alice"])
    menu = await open_settings(fake, bot, world["alice"], world["channel"])
    assert menu.ephemeral and menu.content.startswith(t("settings_title", "ru"))
    assert "cs:classify" not in menu.custom_ids, "Discord has no auto-classified photos"
    await press_in_menu(fake, bot, world["alice"], menu, "cs:style")
    assert "cs:style:аниме" in menu.custom_ids, "the menu is redrawn in place with the style choices"
    await press_in_menu(fake, bot, world["alice"], menu, "cs:style:аниме")
    assert f"{t('settings_style', 'ru')}: аниме" in menu.content
    assert await RedisChatSettings(redis_conn).load(channel_settings_ref(world)) == ChatSettings(style="аниме")

    asked = fake.slash_command(world["bob"], world["channel"], "imagine", {"prompt": "кот"})
    dispatch(bot, asked)
    await fake.wait_for(lambda: (m := fake.original(asked)) and m.content.startswith("⏳"))
    assert GenerateJob.model_validate(job_payload(redis_conn, _job_id(asked))).style == "аниме"


async def test_members_without_manage_server_are_refused_and_nothing_changes(fake, world, bot, redis_conn):
    bot.molbert.settings_store = RedisChatSettings(redis_conn)
    refusal = await open_settings(fake, bot, world["bob"], world["channel"])
    assert refusal.ephemeral and refusal.content == t("settings_admins_only", "ru", platform="discord")
    assert refusal.custom_ids == []

    fake.grant_manage_guild(world["guild"], world["alice"])
    menu = await open_settings(fake, bot, world["alice"], world["channel"])
    await press_in_menu(fake, bot, world["alice"], menu, "cs:nsfw")
    pressed = await press_in_menu(fake, bot, world["bob"], menu, "cs:nsfw:relaxed")  # e.g. rights taken away
    answer = fake.original(pressed)
    assert answer.ephemeral and answer.content == t("settings_admins_only", "ru", platform="discord")
    assert await RedisChatSettings(redis_conn).load(channel_settings_ref(world)) == ChatSettings()


async def test_in_a_dm_the_user_is_the_admin_and_a_new_language_answers_at_once(fake, world, bot):
    dm = fake.dm_channel(world["bob"])
    menu = await open_settings(fake, bot, world["bob"], dm, locale="en-US")
    assert menu.content.startswith(t("settings_title", "en"))
    await press_in_menu(fake, bot, world["bob"], menu, "cs:lang")
    await press_in_menu(fake, bot, world["bob"], menu, "cs:lang:ru")
    assert menu.content.startswith(t("settings_title", "ru"))
