"""The /describe job on a real Redis: queued by the frontend's client on the photo queue, run by the worker on the
tiny ruCLIP, its answer published and kept for the buttons; a classification batch leaves it alone."""

from __future__ import annotations

from functools import partial

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from bot.queue import RedisJobs
from core.keys import described_key, input_key, result_stream
from core.protocol import CLASSIFY_QUEUE, ClassifyJob, DescribeJob, ResultEvent, job_id_for
from models.phrases import phrase_bank
from tests import factories, images
from workers import runtime
from workers.jobs import DESCRIBED_TTL

PLATFORM = "telegram"
chat = partial(factories.chat, chat_id=100, platform=PLATFORM)


@pytest.fixture
def jobs(redis_conn) -> RedisJobs:
    return RedisJobs(redis_conn)


def events(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream(PLATFORM))
    found = [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]
    return [event for event in found if event.kind != "progress"]


async def submit_describe(jobs: RedisJobs, message_id: int, image: bytes) -> str:
    job_id = job_id_for(chat(message_id), "describe")
    job = DescribeJob(chat=chat(message_id), image_key=input_key(job_id))
    assert await jobs.submit_describe(job_id, job, image) is not None
    return job_id


async def test_a_description_is_published_and_kept_for_its_buttons(jobs, run_worker, redis_conn):
    job_id = await submit_describe(jobs, 1, images.png(color=(30, 120, 200)))
    assert Queue(CLASSIFY_QUEUE, connection=redis_conn, serializer=JSONSerializer).count == 1
    run_worker()
    [event] = events(redis_conn)
    assert (event.job_id, event.kind, event.ok, event.chat) == (job_id, "describe", True, chat(1))
    described = event.description
    assert described is not None and described.subject in phrase_bank().categories["subjects"]
    assert 2 <= len(described.prompts) <= 4 and described.prompts[0].startswith(described.subject)
    stored = await jobs.load_description(job_id)
    assert stored is not None and stored.description == described and stored.chat == chat(1)
    assert 0 < redis_conn.ttl(described_key(job_id)) <= DESCRIBED_TTL
    assert not redis_conn.exists(input_key(job_id))  # the photo is not kept once described
    assert runtime.interrogator().bank_embeddings()[1] == "memory"  # the bank stays ready for the next photo


async def test_a_photo_gone_before_its_turn_is_said(jobs, run_worker, redis_conn):
    job_id = await submit_describe(jobs, 2, images.png())
    redis_conn.delete(input_key(job_id))
    run_worker()
    [event] = events(redis_conn)
    assert (event.kind, event.ok, event.error_key) == ("describe", False, "photo_gone")
    assert await jobs.load_description(job_id) is None


async def test_a_classification_batch_does_not_take_a_description_waiting_behind_it(jobs, run_worker, redis_conn):
    classify_id = job_id_for(chat(3), "classify")
    await jobs.submit_classify(classify_id, ClassifyJob(chat=chat(3), image_key=input_key(classify_id)), images.png())
    describe_id = await submit_describe(jobs, 4, images.png())
    run_worker()
    kinds = {event.job_id: event.kind for event in events(redis_conn)}
    assert kinds == {classify_id: "classify", describe_id: "describe"}
