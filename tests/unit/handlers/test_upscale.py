"""Upscale in the use cases (#20): --up, the ⤴ buttons and their refusals, and showing an enlarged picture within
each platform's limits."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.keys import image_key
from core.protocol import ChatRef, GenerateJob, ResultEvent, job_id_for
from handlers import upscale
from handlers.buttons import ENLARGE, Action, parse_action, result_keyboard, single_picture_keyboard
from handlers.delivery import deliver_result, render_progress
from handlers.errors import UserError
from handlers.options import command_line, generation_job, parse_imagine
from handlers.ports import ACTION_MAX_BYTES
from handlers.service import Molbert
from handlers.texts import t
from tests import images
from tests.factories import chat, make_molbert
from tests.memory import MemoryJobs, MemoryOutbox


@pytest.fixture
def molbert(jobs: MemoryJobs) -> Molbert:
    return make_molbert(jobs)


def presser(user_id: int = 7, lang: str = "ru") -> ChatRef:
    return ChatRef(platform="memory", chat_id=42, user_id=user_id, message_id=500, lang=lang)


async def painted(molbert, jobs, text="кот --n 1") -> str:
    job_id = await molbert.imagine(chat(1), text, MemoryOutbox())
    for index in range(jobs.jobs[job_id].num_images or 1):
        jobs.images[image_key(job_id, index)] = images.png(30, 20)
    return job_id


@pytest.mark.parametrize(("typed", "factor"), [("--up 2", 2), ("--up 4", 4), ("--увеличить x4", 4), ("—up ×2", 2)])
def test_up_takes_two_or_four(typed, factor):
    request = parse_imagine(f"кот {typed}")
    job = generation_job(chat(), request, seed=5)
    assert (request.upscale, job.upscale) == (factor, factor)
    assert command_line(job) == f"/imagine кот --up {factor} --seed 5"


@pytest.mark.parametrize("value", ["3", "8", "1", "два"])
def test_up_refuses_other_factors_with_its_own_text(value):
    with pytest.raises(UserError) as refused:
        parse_imagine(f"кот --up {value}")
    assert refused.value.key == "option_up"
    assert "2" in t("option_up", "ru", value=value) and "4" in t("option_up", "en", value=value)


async def test_up_3_is_answered_and_nothing_is_queued(molbert, jobs, outbox):
    assert await molbert.imagine(chat(1), "кот --up 3", outbox) is None
    assert outbox.texts == [t("option_up", "ru", value="3")] and not jobs.jobs


def test_the_enlarge_buttons_and_their_actions():
    assert [[(b.text, b.action) for b in row] for row in single_picture_keyboard("job", 2)] == [
        [("⤴ ×2", "s:job:2:2"), ("⤴ ×4", "s:job:2:4")]
    ]
    assert parse_action("s:job:2:4") == Action(ENLARGE, "job", 2, factor=4)
    for forged in ("s:job:2:3", "s:job:2", "s:job:4:2", "s:job:1:2:x"):
        assert parse_action(forged) is None
    longest = [b.action for row in single_picture_keyboard("j" * 56, 3) for b in row]
    assert max(len(a.encode()) for a in longest) <= ACTION_MAX_BYTES and all(map(parse_action, longest))
    assert not any(b.action.startswith("s:") for row in result_keyboard("job", 4) for b in row)  # a grid: U first


async def test_enlarge_queues_that_picture_on_the_originals_queue(molbert, jobs, outbox):
    job_id = await painted(molbert, jobs, "кот --n 1 --best 4")
    notice = await molbert.press(presser(), f"s:{job_id}:0:2", "press-up", outbox)
    assert notice == t("button_accepted", "ru")
    job = jobs.jobs[job_id_for(presser(), "up", "press-up")]
    assert (job.init_image_key, job.upscale, job.num_images, job.best_of) == (image_key(job_id, 0), 2, 1, None)
    assert job.generator == jobs.jobs[job_id].generator and job.chat == presser()


async def test_u_sends_the_picture_with_the_enlarge_buttons(molbert, jobs, outbox):
    job_id = await painted(molbert, jobs, "кот --n 4")
    await molbert.press(presser(), f"u:{job_id}:1", "press-u", outbox)
    photo, document = outbox.sent[-2:]
    assert photo.buttons == single_picture_keyboard(job_id, 1) and document.filename.endswith("-2.png")


@pytest.mark.parametrize(
    ("action", "key"),
    [("s:gone:0:2", "button_stale"), ("s:{job}:1:2", "button_image_gone")],
)
async def test_stale_enlarge_buttons_are_answered(molbert, jobs, outbox, action, key):
    job_id = await painted(molbert, jobs)
    before = dict(jobs.jobs)
    assert await molbert.press(presser(lang="en"), action.format(job=job_id), "p", outbox) == t(key, "en")
    assert jobs.jobs == before


async def test_someone_elses_enlarge_button_is_refused(molbert, jobs, outbox):
    job_id = await painted(molbert, jobs)
    notice = await molbert.press(presser(user_id=999), f"s:{job_id}:0:4", "p", outbox)
    assert notice == t("button_not_yours", "ru") and len(jobs.jobs) == 1


async def test_an_enlarged_picture_is_not_enlarged_again(molbert, jobs, outbox):
    job_id = await painted(molbert, jobs, "кот --n 1 --up 2")
    assert await molbert.press(presser(), f"s:{job_id}:0:4", "p", outbox) == t("upscale_again", "ru")
    await molbert.press(presser(), f"u:{job_id}:0", "p2", outbox)
    assert outbox.sent[-2].buttons is None  # U of an enlarged picture: no ⤴ under it


def enlarged_event(job: GenerateJob, count: int = 1) -> ResultEvent:
    return ResultEvent(
        job_id="up-1",
        kind="imagine",
        chat=job.chat,
        generation=job,
        model="tiny",
        seconds=2.0,
        image_keys=[f"k{i}" for i in range(count)],
        upscale=job.upscale,
        upscaler="RealESRGAN_x4",
        variations=False,
    )


def press_result() -> GenerateJob:
    return GenerateJob(chat=chat(), prompt="кот", seed=3, init_image_key="molbert:image:j:0", upscale=4)


async def test_a_pressed_upscale_comes_as_a_photo_and_the_png_without_buttons():
    outbox = MemoryOutbox()
    png = images.png(120, 80)
    await deliver_result(enlarged_event(press_result()), [png], None, outbox)
    photo, document = outbox.sent[-2:]
    assert photo.photo == document.document == png and photo.buttons is None
    assert "×4" in photo.text and "RealESRGAN_x4" in photo.text and document.filename == "molbert-3-x4.png"


async def test_up_on_imagine_keeps_the_caption_and_offers_reroll_and_remix_only():
    outbox = MemoryOutbox()
    job = GenerateJob(chat=chat(), prompt="кот", seed=3, upscale=2)
    await deliver_result(enlarged_event(job), [images.png(60, 40)], None, outbox)
    photo = outbox.sent[-2]
    assert "--up 2" in photo.text and t("upscaled_note", "ru", factor=2, model="RealESRGAN_x4") in photo.text
    assert [[b.text for b in row] for row in photo.buttons] == [["🔄", "🖋"]]
    await deliver_result(enlarged_event(job, count=4), [images.png(60, 40)], None, outbox)
    assert [[b.text for b in row] for row in outbox.sent[-1].buttons] == [["U1", "U2", "U3", "U4"], ["🔄", "🖋"]]


def noise_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((width, height), 100).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_telegram_photo_preview_and_document_stay_within_its_limits(monkeypatch):
    monkeypatch.setattr(upscale, "TELEGRAM_PHOTO_BYTES", 50_000)
    monkeypatch.setattr(upscale, "DOCUMENT_BYTES", 100_000)
    monkeypatch.setattr(upscale, "PREVIEW_SIDE", 200)
    big = noise_png(400, 300)
    assert len(big) > 100_000
    preview = upscale.fitted_photo(big, MemoryOutbox())
    with Image.open(io.BytesIO(preview)) as picture:
        assert (picture.format, max(picture.size)) == ("JPEG", 200)
    data, name, as_jpeg = upscale.fitted_document(big, "x")
    with Image.open(io.BytesIO(data)) as picture:
        assert (picture.format, picture.size, name, as_jpeg) == ("JPEG", (400, 300), "x.jpg", True)
    lossless = MemoryOutbox()
    lossless.photos_lossless = True  # Discord, the terminal: as it is (Discord's outbox fits its own limit)
    assert upscale.fitted_photo(big, lossless) == big


def test_progress_says_enlarging_and_on_a_cpu_that_it_takes_a_while():
    base = {"job_id": "j", "kind": "progress", "chat": chat(), "progress": 0.5, "upscale": 4}
    assert render_progress(ResultEvent(**base)) == t("progress_upscaling", "ru", factor=4, percent=50)
    slow = render_progress(ResultEvent(**base, slow_device=True))
    assert slow.endswith(t("progress_upscaling_cpu", "ru"))


async def test_a_remix_of_an_up_request_keeps_up(molbert, jobs, outbox):
    job_id = await painted(molbert, jobs, "кот --n 1 --up 4")
    remixed = await molbert.remix(chat(2), job_id, "добавь луну", outbox)
    assert remixed is not None and jobs.jobs[remixed].upscale == 4
