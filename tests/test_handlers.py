"""Handlers with the in-memory adapter: parsing, validation, what the user is told, what gets queued."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handlers import images as image_checks
from handlers.delivery import deliver_result, render_labels
from handlers.errors import QueueUnavailable, UserError
from handlers.prompts import MAX_PROMPT_CHARS, clean_text, parse_labels, parse_prompt
from handlers.protocol import ChatRef, GenerateJob, ResultEvent, ScoredLabel, job_id_for
from handlers.service import Molbert
from handlers.texts import EN, RU, pick_language, t
from tests import images
from tests.memory import MemoryJobs, MemoryOutbox


def chat(message_id: int = 1, lang: str = "ru", chat_id: int = 42) -> ChatRef:
    return ChatRef(platform="memory", chat_id=chat_id, user_id=7, message_id=message_id, lang=lang)


@pytest.fixture
def jobs() -> MemoryJobs:
    return MemoryJobs()


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture
def molbert(jobs: MemoryJobs) -> Molbert:
    return Molbert(jobs)


def downloader(data: bytes):
    async def download() -> bytes:
        return data

    return download


# --- parsing ---------------------------------------------------------------------------------------------


def test_clean_text_removes_invisible_and_control_characters():
    assert clean_text("  кот\u200b в\tкосмосе\x00\u202e ") == "кот в космосе"


@pytest.mark.parametrize("text", [None, "", "   ", "\u200b\u200d", "\x00\x07"])
def test_empty_prompts_are_refused(text):
    with pytest.raises(UserError) as err:
        parse_prompt(text)
    assert err.value.key == "imagine_empty"


def test_long_prompt_is_refused_with_its_length():
    with pytest.raises(UserError) as err:
        parse_prompt("к" * 5000)
    assert err.value.key == "prompt_too_long"
    assert err.value.values == {"length": 5000, "limit": MAX_PROMPT_CHARS}


def test_labels_split_on_commas_semicolons_and_newlines_deduplicated():
    assert parse_labels("кошка, собака; медведь\nКошка,, ") == ["кошка", "собака", "медведь"]


def test_caption_without_labels_means_default_set():
    assert parse_labels(None) is None
    assert parse_labels(" , ;\n") is None


def test_too_many_labels_are_refused():
    with pytest.raises(UserError) as err:
        parse_labels(",".join(f"метка {i}" for i in range(60)))
    assert err.value.key == "labels_too_many"


def test_job_id_is_derived_from_the_event_and_safe_for_rq():
    group = ChatRef(platform="telegram", chat_id=-100123, user_id=1, message_id=77)
    assert job_id_for(group, "imagine") == "telegram-imagine-m100123-77"
    assert job_id_for(group, "imagine") == job_id_for(group.model_copy(), "imagine")
    assert job_id_for(group, "imagine") != job_id_for(group.model_copy(update={"message_id": 78}), "imagine")


# --- images ----------------------------------------------------------------------------------------------


def test_normalize_image_returns_rgb_jpeg():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.png(64, 48))))
    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (64, 48))


def test_exif_orientation_is_applied():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.jpeg_rotated(80, 40))))
    assert out.size == (40, 80)


def test_animated_gif_uses_its_first_frame():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.animated_gif())))
    red, _green, blue = out.getpixel((16, 16))
    assert red > 200 and blue < 50


def test_large_images_are_scaled_down():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.png(3000, 1500))))
    assert max(out.size) == image_checks.MAX_SIDE


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (images.png_bomb(), "image_too_many_pixels"),
        (images.truncated(images.png(256, 256)), "image_unreadable"),
        (b"not an image at all", "image_unreadable"),
        (images.SVG, "image_unreadable"),
        (images.PDF, "image_unreadable"),
    ],
    ids=["decompression-bomb", "truncated", "garbage", "svg", "pdf"],
)
def test_bad_images_are_refused(data, key):
    with pytest.raises(UserError) as err:
        image_checks.normalize_image(data)
    assert err.value.key == key


def test_files_over_the_download_limit_are_refused_before_download():
    with pytest.raises(UserError) as err:
        image_checks.check_download_size(25 * 2**20)
    assert err.value.key == "file_too_big"


# --- use cases -------------------------------------------------------------------------------------------


async def test_imagine_queues_a_job_and_says_so(molbert, jobs, outbox):
    job_id = await molbert.imagine(chat(), "  кот в космосе ", outbox)
    job = jobs.jobs[job_id]
    assert isinstance(job, GenerateJob)
    assert job.prompt == "кот в космосе"
    assert 0 <= job.seed < 2**31
    assert outbox.texts == [t("queued_next", "ru")]
    assert jobs.status_messages[job_id] == outbox.sent[0].message_id


async def test_second_job_is_told_its_position(molbert, outbox):
    await molbert.imagine(chat(1), "кот", outbox)
    await molbert.imagine(chat(2), "пёс", outbox)
    assert outbox.texts[-1] == t("queued", "ru", position=2)


async def test_repeated_event_makes_no_second_job(molbert, jobs, outbox):
    assert await molbert.imagine(chat(5), "кот", outbox) is not None
    assert await molbert.imagine(chat(5), "кот", outbox) is None
    assert len(jobs.jobs) == 1
    assert len(outbox.sent) == 1


@pytest.mark.parametrize("text", [None, "  ", "к" * 5000])
async def test_bad_prompt_is_answered_in_russian_and_queues_nothing(molbert, jobs, outbox, text):
    assert await molbert.imagine(chat(), text, outbox) is None
    assert jobs.jobs == {}
    assert len(outbox.texts) == 1
    assert any(word in outbox.texts[0] for word in ("Напишите", "слишком длинное"))


async def test_english_speakers_get_english(molbert, outbox):
    await molbert.imagine(chat(lang="en"), "", outbox)
    assert outbox.texts == [t("imagine_empty", "en")]


async def test_queue_down_is_explained(molbert, jobs, outbox):
    async def broken(job_id, job):
        raise QueueUnavailable("connection refused")

    jobs.submit_generate = broken
    assert await molbert.imagine(chat(), "кот", outbox) is None
    assert outbox.texts == [t("queue_unavailable", "ru")]


async def test_status_message_is_removed_when_the_result_came_first(molbert, jobs, outbox):
    jobs.delivered.add(job_id_for(chat(9), "imagine"))
    await molbert.imagine(chat(9), "кот", outbox)
    assert outbox.sent[0].deleted


async def test_photo_with_caption_labels_is_queued_with_them(molbert, jobs, outbox):
    job_id = await molbert.classify(chat(), downloader(images.png()), 1000, "кошка, собака, медведь", outbox)
    job = jobs.jobs[job_id]
    assert job.labels == ["кошка", "собака", "медведь"]
    assert Image.open(io.BytesIO(jobs.images[job.image_key])).format == "JPEG"


async def test_photo_without_caption_uses_default_labels(molbert, jobs, outbox):
    job_id = await molbert.classify(chat(), downloader(images.png()), None, None, outbox)
    assert jobs.jobs[job_id].labels is None


async def test_corrupt_photo_is_answered_and_not_queued(molbert, jobs, outbox):
    assert await molbert.classify(chat(), downloader(b"\x89PNG garbage"), 12, None, outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t("image_unreadable", "ru")]


async def test_huge_file_is_not_even_downloaded(molbert, jobs, outbox):
    async def must_not_download() -> bytes:
        raise AssertionError("downloaded a file over the limit")

    await molbert.classify(chat(), must_not_download, 21 * 2**20, None, outbox)
    assert jobs.jobs == {}
    assert "слишком большой" in outbox.texts[0]


# --- delivery --------------------------------------------------------------------------------------------


def event(**fields) -> ResultEvent:
    base = {"job_id": "j1", "kind": "classify", "chat": chat(), "ok": True}
    return ResultEvent(**{**base, **fields})


def test_labels_render_top5_with_percentages_and_bars():
    scores = [0.5, 0.2, 0.1, 0.08, 0.07, 0.05]
    labels = [ScoredLabel(label=f"метка{i}", score=s) for i, s in enumerate(scores)]
    text = render_labels(event(labels=labels))
    lines = text.splitlines()
    assert lines[0] == t("classify_header", "ru")
    assert len(lines) == 6
    assert lines[1] == "▰▰▰▰▰▱▱▱▱▱  50% метка0"
    assert "метка5" not in text


async def test_classification_result_replaces_the_status_message(outbox):
    status = await outbox.send_text(chat(), "⏳")
    labels = [ScoredLabel(label="кошка", score=0.9), ScoredLabel(label="собака", score=0.1)]
    await deliver_result(event(labels=labels, user_labels=True), [], status, outbox)
    assert outbox.texts == [render_labels(event(labels=labels, user_labels=True))]


async def test_image_result_is_sent_and_status_deleted(outbox):
    status = await outbox.send_text(chat(), "⏳")
    result = event(kind="imagine", prompt="кот", seed=5, model="tiny", seconds=1.25, image_keys=["k"])
    await deliver_result(result, [images.png()], status, outbox)
    photo = outbox.sent[-1]
    assert photo.photo == images.png()
    assert photo.text == "🎨 кот\n\nseed 5 · tiny · 1.2 с"
    assert outbox.by_id(status).deleted


async def test_failure_is_explained_with_a_reference(outbox):
    await deliver_result(event(ok=False, error_ref="ab12cd34"), [], None, outbox)
    assert outbox.texts == [t("job_failed", "ru", ref="ab12cd34")]


# --- texts -----------------------------------------------------------------------------------------------


def test_every_text_exists_in_both_languages():
    assert RU.keys() == EN.keys()


def test_language_choice():
    assert pick_language("en-GB") == "en"
    assert pick_language("ru") == "ru"
    assert pick_language("uk") == "ru"
    assert pick_language(None) == "ru"
