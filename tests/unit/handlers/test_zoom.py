"""Zoom out and pan under a single picture: the buttons, their actions, the job a press queues, and the answers to
presses that cannot be served (a model that cannot outpaint, stale and foreign buttons)."""

from __future__ import annotations

from functools import partial

import pytest

from core.keys import image_key
from core.protocol import OUTPAINT_CODES, ChatRef, GenerateJob, ResultEvent, job_id_for
from handlers.buttons import ZOOM, Action, parse_action, single_picture_keyboard, upscale_row, zoom_rows
from handlers.delivery import deliver_result, render_caption
from handlers.ports import ACTION_MAX_BYTES
from handlers.service import Molbert
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert
from tests.memory import MemoryJobs, MemoryOutbox

chat = partial(factories.chat, platform="memory")


@pytest.fixture
def molbert(jobs: MemoryJobs) -> Molbert:
    return make_molbert(jobs)


def presser(user_id: int = 7, chat_id: int = 42, lang: str = "ru") -> ChatRef:
    return ChatRef(platform="memory", chat_id=chat_id, user_id=user_id, message_id=500, lang=lang)


async def one_picture(molbert, jobs, outbox, *, outpaints=True, text="кот --n 1 --style аниме --no люди", message=1):
    """A one-picture generation queued and 'painted', by a generator that can (or cannot) outpaint."""
    job_id = await molbert.imagine(chat(message), text, outbox)
    jobs.images[image_key(job_id, 0)] = images.png(64, 64)
    if outpaints:
        jobs.outpaintable.add(job_id)
    return job_id


# --- buttons -----------------------------------------------------------------------------------------------------


def test_zoom_rows_under_a_picture():
    assert [[(b.text, b.action) for b in row] for row in zoom_rows("job", 2)] == [
        [("🔍 ×1.5", "z:job:2:o15"), ("🔍 ×2", "z:job:2:o2")],
        [("⬅️", "z:job:2:l"), ("➡️", "z:job:2:r"), ("⬆️", "z:job:2:u"), ("⬇️", "z:job:2:d")],
    ]


def test_every_zoom_action_parses_and_fits_with_the_longest_job_id():
    actions = [button.action for row in zoom_rows("j" * 56, 3) for button in row]
    assert max(len(action.encode()) for action in actions) == ACTION_MAX_BYTES
    assert [parse_action(action) for action in actions] == [
        Action(ZOOM, "j" * 56, 3, outpaint=code) for code in OUTPAINT_CODES
    ]
    assert zoom_rows("j" * 57, 0) == []  # no button nothing would answer


@pytest.mark.parametrize("action", ["z:job:0:o3", "z:job:4:o2", "z:job:0", "z:job:0:o2:x", "z::0:l", "z:job:0:L"])
def test_forged_zoom_actions_do_not_parse(action):
    assert parse_action(action) is None


def test_the_single_picture_keyboard_has_zoom_rows_only_where_the_model_can():
    zoom, pan = zoom_rows("job", 1)
    assert single_picture_keyboard("job", 1, zoom=True) == [zoom + upscale_row("job", 1), pan]  # ⤴ beside 🔍
    assert single_picture_keyboard("job", 1, zoom=False) == [upscale_row("job", 1)]


# --- delivery ----------------------------------------------------------------------------------------------------


def result(count: int, outpainting: bool, job: GenerateJob | None = None) -> ResultEvent:
    job = job or GenerateJob(chat=chat(), prompt="кот", seed=5, num_images=count)
    keys = [f"k{i}" for i in range(count)]
    fields = {"generation": job, "image_keys": keys, "outpainting": outpainting}
    return ResultEvent(job_id="j1", kind="imagine", chat=chat(), **fields)


async def test_a_one_picture_result_of_a_model_that_outpaints_gets_the_zoom_rows(outbox):
    await deliver_result(result(1, True), [images.png()], None, outbox)
    rows = [[b.text for b in row] for row in outbox.sent[-1].buttons]
    # 👍 👎 join the last row: five rows, the most Discord shows
    assert rows == [
        ["U1"],
        ["V1", "~1"],
        ["🔍 ×1.5", "🔍 ×2", "⤴ ×2", "⤴ ×4"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["🔄", "🖋", "✨", "👍", "👎"],
    ]  # 👍 👎 join the last row: five rows, Discord's most
    assert outbox.sent[-1].buttons[3][0].action == "z:j1:0:l"


@pytest.mark.parametrize(("count", "outpainting"), [(4, True), (1, False)])
async def test_a_grid_or_a_model_that_cannot_gets_no_zoom_buttons(outbox, count, outpainting):
    await deliver_result(result(count, outpainting), [images.png()], None, outbox)
    assert not any(b.action.startswith("z:") for row in outbox.sent[-1].buttons for b in row)


@pytest.mark.parametrize("code", OUTPAINT_CODES)
def test_a_zoomed_pictures_caption_says_what_was_done(code):
    job = GenerateJob(chat=chat(), prompt="кот", seed=5, num_images=1, outpaint=code, init_image_key="k")
    assert render_caption(result(1, True, job)).endswith("\n" + t(f"outpaint_done_{code}", "ru"))
    assert t(f"outpaint_done_{code}", "en") != t(f"outpaint_done_{code}", "ru")


# --- presses -----------------------------------------------------------------------------------------------------


async def test_zoom_press_queues_an_outpainting_of_that_picture_on_its_generator(molbert, jobs, outbox):
    job_id = await one_picture(molbert, jobs, outbox)
    notice = await molbert.press(presser(), f"z:{job_id}:0:o2", "press-z", outbox)
    assert notice == t("button_accepted", "ru")
    original, zoomed = jobs.jobs[job_id], jobs.jobs[job_id_for(presser(), "zoom", "press-z")]
    assert (zoomed.outpaint, zoomed.init_image_key, zoomed.num_images) == ("o2", image_key(job_id, 0), 1)
    assert (zoomed.prompt, zoomed.style, zoomed.negative, zoomed.generator) == (
        original.prompt,
        original.style,
        original.negative,
        original.generator,
    )
    assert zoomed.model_prompt == original.model_prompt and zoomed.negative == "люди"
    assert zoomed.seed != original.seed
    assert zoomed.chat == presser()
    status = outbox.sent[-1]
    assert status.text == t("queued", "ru", position=2) and status.buttons[0][0].action.startswith("x:")


async def test_a_variation_of_a_zoomed_picture_varies_it(molbert, jobs, outbox):
    job_id = await one_picture(molbert, jobs, outbox)
    await molbert.press(presser(), f"z:{job_id}:0:l", "press-z", outbox)
    zoomed_id = job_id_for(presser(), "zoom", "press-z")
    jobs.images[image_key(zoomed_id, 0)] = images.png(80, 48)
    await molbert.press(presser(), f"v:{zoomed_id}:0:h", "press-v", outbox)
    variation = jobs.jobs[job_id_for(presser(), "vary", "press-v")]
    assert (variation.outpaint, variation.init_image_key) == (None, image_key(zoomed_id, 0))
    await molbert.press(presser(), f"r:{zoomed_id}", "press-r", outbox)
    reroll = jobs.jobs[job_id_for(presser(), "reroll", "press-r")]
    assert (reroll.outpaint, reroll.init_image_key) == ("l", image_key(job_id, 0))  # 🔄 pans the same picture again


async def test_a_zoom_press_under_a_model_that_cannot_outpaint_is_refused_clearly(molbert, jobs, outbox):
    job_id = await one_picture(molbert, jobs, outbox, outpaints=False)  # Kandinsky 5: a forged press
    queued = len(jobs.jobs)
    notice = await molbert.press(presser(lang="en"), f"z:{job_id}:0:o15", "press-z", outbox)
    assert notice == t("outpaint_unsupported", "en")
    assert len(jobs.jobs) == queued


async def test_stale_and_foreign_zoom_presses_are_answered_as_v_presses_are(molbert, jobs, outbox):
    job_id = await one_picture(molbert, jobs, outbox)
    queued = len(jobs.jobs)
    assert await molbert.press(presser(), "z:gone:0:o2", "p1", outbox) == t("button_stale", "ru")
    assert await molbert.press(presser(), "z:bad", "p2", outbox) == t("button_stale", "ru")
    assert await molbert.press(presser(user_id=8), f"z:{job_id}:0:o2", "p3", outbox) == t("button_not_yours", "ru")
    other_chat = presser(user_id=8, chat_id=99)
    assert await molbert.press(other_chat, f"z:{job_id}:0:o2", "p4", outbox) == t("button_stale", "ru")
    assert await molbert.press(presser(), f"z:{job_id}:1:o2", "p5", outbox) == t("button_image_gone", "ru")
    assert len(jobs.jobs) == queued


async def test_the_u_image_gets_the_zoom_rows_where_its_model_can_outpaint(molbert, jobs, outbox):
    job_id = await one_picture(molbert, jobs, outbox)
    await molbert.press(presser(), f"u:{job_id}:0", "press-u", outbox)
    photo = next(m for m in outbox.sent if m.photo is not None)
    assert photo.buttons == single_picture_keyboard(job_id, 0, zoom=True)
    plain = MemoryOutbox()
    other = await one_picture(molbert, jobs, plain, outpaints=False, text="собака --n 1", message=2)
    await molbert.press(presser(), f"u:{other}:0", "press-u2", plain)
    assert next(m for m in plain.sent if m.photo is not None).buttons == [upscale_row(other, 0)]  # ⤴, no 🔍
