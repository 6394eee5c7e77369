"""Painting from a user's photo (image-to-image) on the worker: what reaches the model's pipeline, the size, and
how long the photo is kept."""

from __future__ import annotations

import io
from functools import partial

import pytest
from PIL import Image

from bot.queue import INPUT_TTL, RedisJobs
from core.keys import photo_key, result_stream
from core.protocol import GenerateJob, ResultEvent, job_id_for
from handlers.images import normalize_image
from models.generator import ImageGenerator
from tests import factories

PLATFORM = "telegram"
chat = partial(factories.chat, chat_id=300, platform=PLATFORM)


@pytest.fixture
def jobs(redis_conn) -> RedisJobs:
    return RedisJobs(redis_conn)


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


def photo(width: int = 320, height: int = 160) -> bytes:
    """A photo as a frontend stores it: a left-to-right gradient, normalised to JPEG."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return normalize_image(buffer.getvalue())


def events(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream(PLATFORM))
    found = [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]
    return [event for event in found if event.kind != "progress"]


async def submit(jobs: RedisJobs, message_id: int, picture: bytes | None, **fields) -> str:
    job_id = job_id_for(chat(message_id), "imagine")
    job = GenerateJob(chat=chat(message_id), prompt="кот в космосе", seed=5, photo_key=photo_key(job_id), **fields)
    assert await jobs.submit_generate(job_id, job, picture) is not None
    return job_id


async def test_the_users_photo_its_strength_and_the_prompt_reach_the_pipeline(
    jobs, run_worker, redis_conn, tiny_models, pipeline_calls
):
    sent = photo(320, 160)
    job_id = await submit(jobs, 1, sent, strength=0.3)
    assert 0 < redis_conn.ttl(photo_key(job_id)) <= INPUT_TTL
    run_worker()
    [event] = events(redis_conn)
    assert event.ok and event.generation.photo_key == photo_key(job_id)
    [call] = pipeline_calls
    width, height = tiny_models.generator.size_for((320, 160))
    expected = Image.open(io.BytesIO(sent)).convert("RGB").resize((width, height))
    assert call["image"][0].tobytes() == expected.tobytes(), "the pipeline starts from the user's photo"
    assert call["strength"] == 0.3
    assert call["prompt"] == [tiny_models.generator_words("кот в космосе", None)[0]]
    result = Image.open(io.BytesIO(redis_conn.get(event.image_keys[0])))
    assert result.size == (width, height) and width > height, "the photo's aspect ratio, at the model's size"
    assert redis_conn.ttl(photo_key(job_id)) > INPUT_TTL, "kept as long as the pictures, for 🔄"


async def test_an_aspect_ratio_asked_for_wins_over_the_photos(jobs, run_worker, redis_conn, tiny_models):
    await submit(jobs, 2, photo(320, 160), aspect=(1, 2))
    run_worker()
    [event] = events(redis_conn)
    width, height = Image.open(io.BytesIO(redis_conn.get(event.image_keys[0]))).size
    assert (width, height) == tiny_models.generator.size_for((1, 2)) and height > width


async def test_an_expired_photo_is_explained(jobs, run_worker, redis_conn):
    await submit(jobs, 3, None)
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.error_key) == (False, "imagine_photo_gone")


async def test_a_generator_without_image_to_image_is_never_asked(
    jobs, run_worker, redis_conn, tiny_models, pipeline_calls, monkeypatch
):
    # the state a Kandinsky 5 Image Lite generator is in (diffusers has no image-to-image pipeline for it)
    monkeypatch.setattr(tiny_models.generator, "_no_img2img", True)
    job_id = await submit(jobs, 4, photo())
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.error_key) == (False, "imagine_photo_unsupported")
    assert pipeline_calls == [], "nothing was painted without the photo"
    assert redis_conn.exists(photo_key(job_id)) == 0, "a job that painted nothing needs its photo no longer"


async def test_a_job_that_fails_for_good_leaves_no_photo_behind(jobs, run_worker, redis_conn):
    job_id = await submit(jobs, 5, b"garbage, not a JPEG")  # every attempt fails to decode it
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.job_id, event.error_ref is not None) == (False, job_id, True)
    assert redis_conn.exists(photo_key(job_id)) == 0


async def test_a_job_cancelled_while_waiting_leaves_no_photo_behind(jobs, redis_conn):
    job_id = await submit(jobs, 6, photo())
    assert await jobs.cancel(chat(6), job_id)
    assert redis_conn.exists(photo_key(job_id)) == 0
