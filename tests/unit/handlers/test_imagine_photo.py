"""``/imagine`` on a photo (image-to-image) with the in-memory adapter: the photo's checks, ``--strength``, the
other options, the routing away from a text-only generator, and the caption."""

from __future__ import annotations

import io
import logging
from functools import partial

import pytest
from PIL import Image

from bot.config import BotSettings
from core.config import ConfigError, load
from core.keys import image_key, photo_key
from core.protocol import GenerateJob, ResultEvent, job_id_for
from handlers import chat_settings
from handlers.delivery import render_caption
from handlers.errors import UserError
from handlers.options import DEFAULT_STRENGTH, command_line, parse_imagine
from handlers.ports import Upload
from handlers.routing import GeneratorRoutes
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert

chat = partial(factories.chat, platform="memory")


def upload(data: bytes, size: int | None = None) -> Upload:
    async def download() -> bytes:
        return data

    return Upload(download, len(data) if size is None else size)


def queued(jobs, job_id: str | None) -> GenerateJob:
    assert job_id is not None
    job = jobs.jobs[job_id]
    assert isinstance(job, GenerateJob)
    return job


# --- --strength ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "strength"), [("--strength 0.3", 0.3), ("--сила 0,45", 0.45), ("--сила 1", 1.0)])
def test_strength_is_read_in_either_spelling(text, strength):
    assert parse_imagine(f"кот {text}").strength == strength


@pytest.mark.parametrize("value", ["0", "0.01", "1.5", "много", "nan", "-0.5"])
def test_a_strength_out_of_range_is_refused_naming_the_range(value):
    with pytest.raises(UserError) as err:
        parse_imagine(f"кот --strength {value}")
    assert err.value.key == "option_strength"
    assert "0.05" in t(err.value.key, "ru", **err.value.values)


async def test_strength_without_a_photo_is_explained_and_queues_nothing(jobs, outbox):
    assert await make_molbert(jobs).imagine(chat(), "кот --strength 0.4", outbox) is None
    assert jobs.jobs == {} and outbox.texts == [t("option_strength_needs_photo", "ru")]


# --- the use case --------------------------------------------------------------------------------------------


async def test_a_photo_is_checked_stored_and_painted_from_with_every_other_option(jobs, outbox):
    text = "кот в шляпе --strength 0.35 --style аниме --no люди --n 2 --best 4 --seed 7"
    job_id = await make_molbert(jobs).imagine(chat(), text, outbox, photo=upload(images.png(300, 200)))
    job = queued(jobs, job_id)
    assert job.photo_key == photo_key(job_id_for(chat(), "imagine"))
    stored = Image.open(io.BytesIO(jobs.images[job.photo_key]))
    assert (stored.format, stored.size) == ("JPEG", (300, 200)), "the checked photo, as a JPEG"
    assert (job.strength, job.style, job.negative, job.num_images, job.best_of, job.seed) == (
        0.35,
        "аниме",
        "люди",
        2,
        4,
        7,
    )
    assert job.aspect is None, "the photo's own aspect ratio"


async def test_a_photo_keeps_its_shape_over_the_chats_default_unless_ar_is_given(jobs, outbox):
    settings = chat_settings.MemoryChatSettings()
    await settings.save(chat(), "aspect", "16:9")
    molbert = make_molbert(jobs, settings=settings)
    plain = queued(jobs, await molbert.imagine(chat(1), "кот", outbox, photo=upload(images.png())))
    asked = queued(jobs, await molbert.imagine(chat(2), "кот --ar 9:16", outbox, photo=upload(images.png())))
    assert (plain.aspect, plain.strength, asked.aspect) == (None, DEFAULT_STRENGTH, (9, 16))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (images.png_bomb(), "image_too_many_pixels"),
        (images.truncated(images.png(256, 256)), "image_unreadable"),
        (b"not an image at all", "image_unreadable"),
        (images.SVG, "image_unsupported"),
    ],
    ids=["decompression-bomb", "truncated", "garbage", "svg"],
)
async def test_a_bad_photo_gets_what_photos_get_and_nothing_is_queued(jobs, outbox, data, key):
    assert await make_molbert(jobs).imagine(chat(), "кот", outbox, photo=upload(data)) is None
    assert jobs.jobs == {} and jobs.images == {}
    assert outbox.texts == [t(key, "ru", format="SVG", limit=50)]


async def test_a_photo_too_large_is_not_even_downloaded(jobs, outbox):
    async def must_not_download() -> bytes:
        raise AssertionError("downloaded a file over the limit")

    photo = Upload(must_not_download, 21 * 2**20)
    assert await make_molbert(jobs).imagine(chat(), "кот", outbox, photo=photo) is None
    assert jobs.jobs == {} and "слишком большой" in outbox.texts[0]


async def test_a_refused_prompt_does_not_download_the_photo(jobs, outbox):
    async def must_not_download() -> bytes:
        raise AssertionError("downloaded the photo of a refused request")

    await make_molbert(jobs).imagine(chat(), "кот --n 9", outbox, photo=Upload(must_not_download, 10))
    assert jobs.jobs == {}


async def test_nothing_of_the_photo_or_the_prompt_reaches_the_logs(jobs, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    await make_molbert(jobs).imagine(chat(), "секретный кот", outbox, photo=upload(images.png()))
    assert jobs.jobs
    assert "секретный" not in caplog.text and "photo:" not in caplog.text.replace("photo_key", "")


# --- generators that paint from text only --------------------------------------------------------------------

ROUTES = GeneratorRoutes.parse("lite=molbert-generate-lite, fast=molbert-generate-fast", "lite")


def test_a_text_only_generator_must_be_in_the_table(monkeypatch):
    monkeypatch.setenv("BOT_GENERATORS", "lite=molbert-generate-lite,fast=molbert-generate-fast")
    monkeypatch.setenv("BOT_TEXT_ONLY_GENERATORS", "Lite")
    assert load(BotSettings).routes().text_only == {"lite"}
    monkeypatch.setenv("BOT_TEXT_ONLY_GENERATORS", "huge")
    with pytest.raises(ConfigError, match="BOT_TEXT_ONLY_GENERATORS"):
        load(BotSettings)


async def test_a_photo_goes_to_a_generator_that_can_and_the_caption_says_so(jobs, outbox):
    molbert = make_molbert(jobs, routes=ROUTES)
    job = queued(jobs, await molbert.imagine(chat(1), "кот", outbox, photo=upload(images.png())))
    assert (job.generator, job.rerouted_from) == ("fast", "lite")
    asked = queued(jobs, await molbert.imagine(chat(2), "кот --model lite", outbox, photo=upload(images.png())))
    assert (asked.generator, asked.rerouted_from) == ("fast", "lite")
    text = queued(jobs, await molbert.imagine(chat(3), "кот --model lite", outbox))
    assert (text.generator, text.rerouted_from) == ("lite", None), "text alone stays where it was asked"
    caption = render_caption(ResultEvent(job_id="j", kind="imagine", chat=chat(), generation=job, model="sdxl"))
    assert t("imagine_rerouted", "ru", asked="lite", used="fast") in caption


async def test_with_no_generator_that_can_the_user_is_told_and_nothing_is_queued(jobs, outbox):
    molbert = make_molbert(jobs, routes=GeneratorRoutes.parse("lite=molbert-generate-lite", "lite"))
    assert await molbert.imagine(chat(), "кот", outbox, photo=upload(images.png())) is None
    assert jobs.jobs == {} and outbox.texts == [t("imagine_photo_impossible", "ru", model="lite")]


# --- the caption ---------------------------------------------------------------------------------------------


def test_the_caption_says_the_picture_started_from_a_photo_and_its_strength():
    job = GenerateJob(chat=chat(), prompt="кот", seed=3, photo_key=photo_key("j0"), strength=0.35)
    caption = render_caption(ResultEvent(job_id="j", kind="imagine", chat=chat(), generation=job, model="tiny"))
    assert command_line(job) == "/imagine кот --strength 0.35 --seed 3"
    assert command_line(job) in caption
    assert "📷 По фото, сила 0.35" in caption and "🔄 рисует по тому же фото" in caption
    plain = render_caption(
        ResultEvent(
            job_id="j", kind="imagine", chat=chat(), generation=job.model_copy(update={"photo_key": None}), model="tiny"
        )
    )
    assert "📷" not in plain and "--strength" not in plain


async def test_a_reroll_paints_from_the_same_photo_at_the_same_strength(jobs, outbox):
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(chat(), "кот --сила 0.3", outbox, photo=upload(images.png()))
    original = queued(jobs, job_id)
    await molbert.press(chat(5), f"r:{job_id}", "press-1", outbox)
    reroll = queued(jobs, job_id_for(chat(5), "reroll", "press-1"))
    assert (reroll.photo_key, reroll.strength) == (original.photo_key, 0.3)


async def test_a_variation_of_a_picture_from_a_photo_starts_from_the_picture_not_the_photo(jobs, outbox):
    """V varies the result; had it kept the photo's key, its caption would say it started from the photo, at the
    variation's strength."""
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(chat(), "кот --сила 0.3", outbox, photo=upload(images.png()))
    assert job_id is not None
    jobs.images[image_key(job_id, 0)] = images.png(30, 20)
    await molbert.press(chat(5), f"v:{job_id}:0:l", "press-2", outbox)
    variation = queued(jobs, job_id_for(chat(5), "vary", "press-2"))
    assert (variation.init_image_key, variation.photo_key) == (image_key(job_id, 0), None)
    assert "--strength" not in command_line(variation)
