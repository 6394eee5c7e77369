"""Upscale jobs in one process (#20): the shared handlers queue a picture and a ⤴ press (or ``--up``) on a real
Redis, the real worker runs the tiny preset's RRDBNet (loaded through spandrel) and publishes pictures exactly ×2
or ×4 in size; cancelling, a worker without an upscaler and a picture too large are answered."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from bot.queue import RedisJobs
from core.keys import cancel_key, image_key, result_stream
from core.protocol import ChatRef, ResultEvent, job_id_for
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox
from workers import upscaling

CHAT = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)
PRESSED = CHAT.model_copy(update={"message_id": 2})


def size_of(redis_conn, key: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(redis_conn.get(key))) as picture:
        return picture.size


def result_of(redis_conn, job_id: str) -> ResultEvent:
    events = [
        ResultEvent.model_validate_json(fields[b"event"]) for _, fields in redis_conn.xrange(result_stream("telegram"))
    ]
    return next(event for event in events if event.job_id == job_id and event.kind != "progress")


async def painted(tiny_models, redis_conn, text: str = "маяк --steps 1 --n 1") -> tuple[RedisJobs, str]:
    jobs = RedisJobs(redis_conn)
    job_id = await make_molbert(jobs).imagine(CHAT, text, MemoryOutbox())
    work_until_empty(tiny_models, redis_conn)
    return jobs, job_id


async def test_a_press_enlarges_that_picture_exactly_two_times(tiny_models, redis_conn):
    jobs, job_id = await painted(tiny_models, redis_conn)
    await make_molbert(jobs).press(PRESSED, f"s:{job_id}:0:2", "press-up", MemoryOutbox())
    work_until_empty(tiny_models, redis_conn)
    up_id = job_id_for(PRESSED, "up", "press-up")
    event = result_of(redis_conn, up_id)
    assert event.ok and (event.upscale, event.upscaler) == (2, "RealESRGAN_x4")
    width, height = size_of(redis_conn, image_key(job_id, 0))
    assert size_of(redis_conn, event.image_keys[0]) == (width * 2, height * 2)


async def test_up_on_imagine_enlarges_the_final_pictures_four_times(tiny_models, redis_conn):
    _jobs, job_id = await painted(tiny_models, redis_conn, "маяк --steps 1 --n 2 --best 3 --up 4")
    event = result_of(redis_conn, job_id)
    assert event.ok and event.upscale == 4 and len(event.image_keys) == 2 and not event.variations
    width, height = tiny_models.generator.size_for(None)
    assert {size_of(redis_conn, key) for key in event.image_keys} == {(width * 4, height * 4)}


async def test_a_cancelled_upscale_stops_between_tiles(tiny_models, redis_conn):
    jobs, job_id = await painted(tiny_models, redis_conn)
    await make_molbert(jobs).press(PRESSED, f"s:{job_id}:0:4", "press-c", MemoryOutbox())
    up_id = job_id_for(PRESSED, "up", "press-c")
    redis_conn.set(cancel_key(up_id), "1")  # ✖ pressed: the first tile's callback stops the job
    work_until_empty(tiny_models, redis_conn)
    event = result_of(redis_conn, up_id)
    assert (event.ok, event.error_key) == (False, "cancelled")


async def test_a_worker_without_an_upscaler_or_a_picture_too_big_is_answered(tiny_models, redis_conn, monkeypatch):
    jobs, job_id = await painted(tiny_models, redis_conn)
    molbert = make_molbert(jobs)
    await molbert.press(PRESSED, f"s:{job_id}:0:2", "press-off", MemoryOutbox())
    work_until_empty(dataclasses.replace(tiny_models, upscaler=None), redis_conn)
    assert result_of(redis_conn, job_id_for(PRESSED, "up", "press-off")).error_key == "upscale_unavailable"
    monkeypatch.setattr(upscaling, "MAX_UPSCALED_PIXELS", 100)
    await molbert.press(PRESSED, f"s:{job_id}:0:4", "press-big", MemoryOutbox())
    work_until_empty(tiny_models, redis_conn)
    assert result_of(redis_conn, job_id_for(PRESSED, "up", "press-big")).error_key == "upscale_too_big"
