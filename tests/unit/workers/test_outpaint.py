"""Zoom out and pan end to end in one process: the shared handlers queue a one-picture result and a 🔍 press on a
real Redis, the real worker paints both with the tiny preset (Stable Diffusion: its inpainting pipeline shares the
loaded UNet), and the zoomed-out picture's middle is the original scaled down. A worker whose generator cannot
outpaint (Kandinsky 5) refuses such a job clearly, and its pictures get no zoom buttons."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bot.queue import RedisJobs
from core.keys import image_key, outpaint_key
from core.protocol import ChatRef, GenerateJob, ResultEvent, job_id_for
from handlers.buttons import single_picture_keyboard
from handlers.delivery import deliver_result
from handlers.texts import t
from models import outpaint, presets, tiny_families
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox

CHAT = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)


def picture(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def results(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange("molbert:results:telegram")
    return [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]


async def test_zoom_out_keeps_the_picture_in_the_middle(tiny_models, redis_conn):
    jobs, outbox = RedisJobs(redis_conn), MemoryOutbox()
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(CHAT, "маяк на скале --n 1 --no люди", outbox)
    work_until_empty(tiny_models, redis_conn)
    assert await jobs.can_outpaint(job_id)
    assert results(redis_conn)[-1].outpainting
    pressed = CHAT.model_copy(update={"message_id": 2})
    assert await molbert.press(pressed, f"z:{job_id}:0:o2", "press-1", outbox) == t("button_accepted", "ru")
    generator = tiny_models.generator
    work_until_empty(tiny_models, redis_conn)
    zoom_id = job_id_for(pressed, "zoom", "press-1")
    event = results(redis_conn)[-1]
    assert (event.job_id, event.ok, event.outpainting) == (zoom_id, True, True)
    assert event.generation is not None and event.generation.negative == "люди"
    original = picture(redis_conn.get(image_key(job_id, 0)))
    zoomed = picture(redis_conn.get(image_key(zoom_id, 0)))
    plan = outpaint.layout(original.size, "o2", generator.size_for)
    assert zoomed.size == plan.size == original.size  # brought back to the model's size
    left, top, right, bottom, f = *plan.box, plan.feather
    middle = np.asarray(zoomed, dtype=np.int32)[top + f : bottom - f, left + f : right - f]
    expected = np.asarray(original.resize(plan.box_size, outpaint.RESAMPLE), dtype=np.int32)[f:-f, f:-f]
    assert np.abs(middle - expected).max() <= 1
    assert generator._inpaint[0].unet is generator.pipe.unet  # no second copy of the weights
    await deliver_result(event, [redis_conn.get(image_key(zoom_id, 0))], None, outbox)
    delivered = outbox.sent[-1]
    assert delivered.text.endswith(t("outpaint_done_o2", "ru"))
    assert delivered.buttons[-3:-1] == single_picture_keyboard(zoom_id, 0, zoom=True)  # zoomed (and enlarged) again


async def test_a_worker_whose_model_cannot_outpaint_refuses_the_job(redis_conn, model_cache_dir, tmp_path):
    path = tiny_families.build_tiny_kandinsky5(tmp_path / "kandinsky5")
    models = presets.load_models("tiny", model_cache_dir, "cpu", generator=str(path))
    jobs, outbox = RedisJobs(redis_conn), MemoryOutbox()
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(CHAT, "кот --n 1", outbox)
    work_until_empty(models, redis_conn)
    assert not results(redis_conn)[-1].outpainting
    assert redis_conn.get(outpaint_key(job_id)) is None and not await jobs.can_outpaint(job_id)
    pressed = CHAT.model_copy(update={"message_id": 2})
    assert await molbert.press(pressed, f"z:{job_id}:0:o2", "press-1", outbox) == t("outpaint_unsupported", "ru")
    forged = GenerateJob(chat=CHAT, prompt="кот", seed=1, outpaint="l", init_image_key=image_key(job_id, 0))
    await jobs.submit_generate("forged-zoom", forged)  # straight onto the queue, past the frontend's check
    work_until_empty(models, redis_conn)
    event = results(redis_conn)[-1]
    assert (event.job_id, event.ok, event.error_key) == ("forged-zoom", False, "outpaint_unsupported")
