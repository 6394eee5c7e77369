"""Discord's painting from a photo: the ``image`` field of ``/imagine`` and the «Нарисовать по картинке» message
menu with its modal, in process against the fake Discord and a real Redis, painted by the real worker on the tiny
models. The fixtures are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.config import DiscordSettings
from bot.discord.app import sync_commands
from core.protocol import GENERATE_QUEUE, GenerateJob
from handlers.images import normalize_image
from handlers.texts import t
from models.generator import ImageGenerator
from tests import images
from tests.fakes.discord_api import MODAL
from tests.unit.bot.test_discord import dispatch, job_payload, queued
from tests.unit.bot.test_discord_rank import answered, modal_shown

pytest_plugins = ["tests.unit.bot.test_discord"]
pytestmark = pytest.mark.usefixtures("no_progress_reports")

MENU = "Нарисовать по картинке"


@pytest.fixture
def pipeline_calls(monkeypatch) -> list[dict]:
    """The keyword arguments of every call of a generator's pipeline (the real call still runs)."""
    calls: list[dict] = []
    real_run = ImageGenerator._run

    def spy(self, pipe, params, kwargs, *args, **more):
        calls.append(dict(kwargs))
        return real_run(self, pipe, params, kwargs, *args, **more)

    monkeypatch.setattr(ImageGenerator, "_run", spy)
    return calls


def gradient(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def assert_painted_from(call: dict, sent: bytes, strength: float) -> None:
    first = call["image"][0]
    expected = Image.open(io.BytesIO(normalize_image(sent))).convert("RGB").resize(first.size)
    assert first.tobytes() == expected.tobytes(), "the pipeline starts from the user's photo"
    assert call["strength"] == strength


async def test_the_menu_is_synced_in_russian_with_english_localisations(fake):
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    commands = {(c["name"], c.get("type", 1)): c for c in fake.commands["global"]}
    menu = commands[(MENU, 3)]
    english = t("discord_ctx_imagine", "en")
    assert menu["name_localizations"] == {"en-US": english, "en-GB": english}


async def test_imagine_with_an_image_paints_from_it(fake, world, bot, run_worker, redis_conn, pipeline_calls):
    channel = world["channel"]
    sent = gradient(240, 120)
    attachment = fake.upload(channel, sent, "cat.png", "image/png")
    options = {"prompt": "кот в шляпе --сила 0.4", "style": "аниме", "image": attachment}
    payload = fake.slash_command(world["alice"], channel, "imagine", options)
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content.startswith("⏳")
    [job_id] = queued(redis_conn, GENERATE_QUEUE)
    job = GenerateJob.model_validate(job_payload(redis_conn, job_id))
    assert (job.strength, job.style) == (0.4, "аниме")
    assert redis_conn.get(job.photo_key) == normalize_image(sent)
    run_worker()
    picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    [call] = pipeline_calls
    assert_painted_from(call, sent, 0.4)
    assert t("imagine_from_photo", "ru", strength="0.4") in picture.content


async def test_the_menu_asks_for_the_description_in_a_modal_then_paints_from_the_picture(
    fake, world, bot, run_worker, redis_conn, pipeline_calls
):
    channel = world["channel"]
    sent = gradient(120, 200)
    pdf = fake.upload(channel, images.PDF, "notes.pdf", "application/pdf")  # not a picture: passed over
    message = fake.user_message(
        channel, world["bob"], "мой кот", [pdf, fake.upload(channel, sent, "c.png", "image/png")]
    )
    menu = fake.message_command(world["alice"], channel, MENU, message, locale="en-US")
    dispatch(bot, menu)
    modal = await modal_shown(fake, bot, menu)
    assert fake.interaction(menu).response_type == MODAL
    assert modal["title"] == t("discord_imagine_modal_title", "en")
    [field] = modal["components"]
    assert (field["label"], field["component"]["custom_id"]) == (t("discord_imagine_modal_label", "en"), "prompt")
    assert queued(redis_conn, GENERATE_QUEUE) == [], "nothing is queued before the description is known"

    submit = fake.submit_modal(menu, {"prompt": "the same cat in winter --strength 0.7"})
    dispatch(bot, submit)
    assert (await answered(fake, submit)).content.startswith("⏳")
    run_worker()
    await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
    [call] = pipeline_calls
    assert_painted_from(call, sent, 0.7)
    width, height = call["image"][0].size
    assert height > width, "the picture's portrait shape"


async def test_the_menu_on_a_message_without_a_picture_explains_without_a_modal(fake, world, bot, redis_conn):
    channel = world["channel"]
    message = fake.user_message(channel, world["bob"], "просто текст")
    menu = fake.message_command(world["alice"], channel, MENU, message)
    dispatch(bot, menu)
    assert (await answered(fake, menu)).content == t("discord_no_images", "ru")
    assert fake.interaction(menu).modal is None


@pytest.mark.parametrize(
    ("data", "name", "mime", "expected"),
    [
        (images.PDF, "doc.pdf", "application/pdf", t("document_not_image", "ru", mime="application/pdf")),
        (b"\x00" * 64, "broken.png", "image/png", t("image_unreadable", "ru")),
    ],
    ids=["a-pdf", "an-unreadable-picture"],
)
async def test_a_bad_image_is_explained_and_queues_nothing(fake, world, bot, redis_conn, data, name, mime, expected):
    channel = world["channel"]
    options = {"prompt": "кот", "image": fake.upload(channel, data, name, mime)}
    payload = fake.slash_command(world["alice"], channel, "imagine", options)
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content == expected
    assert queued(redis_conn, GENERATE_QUEUE) == [] and not redis_conn.keys("molbert:photo:*")
