"""A request that names no count gets its generator's default number of pictures, painted by the real worker on the
tiny preset; the caption's ``/imagine`` line then says ``--n`` so that it reproduces the picture anywhere."""

from __future__ import annotations

import dataclasses

import pytest

from bot.queue import RedisJobs
from bot.results import ResultListener
from core.protocol import ChatRef, GenerateJob
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox
from tests.unit.bot.test_results import Running, wait_until
from workers.jobs import with_count


def test_a_count_the_request_names_is_kept_and_a_default_never_exceeds_best():
    job = GenerateJob(chat=ChatRef(platform="memory", chat_id=1, user_id=1), prompt="кот", seed=1)
    assert with_count(job, 4).num_images == 4
    assert with_count(job.model_copy(update={"num_images": 1}), 4).num_images == 1
    assert with_count(job.model_copy(update={"best_of": 3}), 4).num_images == 3


@pytest.mark.parametrize("default", [1, 3])
async def test_a_bare_imagine_gets_the_generators_default(tiny_models, redis_conn, aredis, monkeypatch, default):
    monkeypatch.setattr(tiny_models.generator, "default_images", default)
    outbox = MemoryOutbox()
    chat = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)
    job_id = await make_molbert(RedisJobs(redis_conn)).imagine(chat, "маяк на скале --seed 9", outbox)
    assert (await RedisJobs(redis_conn).load_generation(job_id)).num_images is None  # the frontend named none
    work_until_empty(tiny_models, redis_conn)
    listener = ResultListener(aredis, "telegram", outbox, consumer="test", block_ms=50)
    async with Running(listener):
        await wait_until(lambda: any(message.photo for message in outbox.sent), timeout=30)
    picture = next(message for message in outbox.sent if message.photo)
    assert [button.text for button in picture.buttons[0]] == [f"U{i + 1}" for i in range(default)]
    assert ("--n 3 --seed 9" in picture.text) == (default == 3)


def test_the_preset_can_set_its_own_default(tiny_models, monkeypatch):
    assert tiny_models.default_images == tiny_models.generator.default_images == 1  # tiny: one, tests stay fast
    monkeypatch.setattr(tiny_models, "preset", dataclasses.replace(tiny_models.preset, images=2))
    assert tiny_models.default_images == 2
