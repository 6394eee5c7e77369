"""The worker on a real Redis: jobs queued by the frontend's client, run by MolbertWorker on the tiny models."""

from __future__ import annotations

import io
import json
import os
import zlib

import pytest
from PIL import Image
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bot.queue import CLASSIFY_POLICY, RedisJobs
from handlers.protocol import (
    CLASSIFY_QUEUE,
    GENERATE_QUEUE,
    ChatRef,
    ClassifyJob,
    GenerateJob,
    ResultEvent,
    input_key,
    job_id_for,
    result_stream,
)
from models.labels import default_labels
from tests import images
from workers import runtime
from workers.jobs import error_reference
from workers.worker import DEFAULT_QUEUES, MolbertWorker, parse_queues

PLATFORM = "telegram"


def chat(message_id: int) -> ChatRef:
    return ChatRef(platform=PLATFORM, chat_id=100, user_id=7, message_id=message_id)


@pytest.fixture
def jobs(redis_conn) -> RedisJobs:
    return RedisJobs(redis_conn)


@pytest.fixture
def run_worker(redis_conn, tiny_models):
    """Run the real worker class until the queues are empty (RQ's burst mode)."""

    def run() -> MolbertWorker:
        worker = MolbertWorker(tiny_models, redis_conn)
        worker.work(burst=True, logging_level="WARNING")
        return worker

    yield run
    runtime.set_models(None)


def events(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream(PLATFORM))
    return [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]


async def submit_imagine(jobs: RedisJobs, message_id: int, prompt: str = "кот в космосе", seed: int = 42) -> str:
    job_id = job_id_for(chat(message_id), "imagine")
    assert await jobs.submit_generate(job_id, GenerateJob(chat=chat(message_id), prompt=prompt, seed=seed)) == 1
    return job_id


async def submit_classify(jobs: RedisJobs, message_id: int, labels: list[str] | None, image: bytes) -> str:
    job_id = job_id_for(chat(message_id), "classify")
    job = ClassifyJob(chat=chat(message_id), image_key=input_key(job_id), labels=labels)
    assert await jobs.submit_classify(job_id, job, image) is not None
    return job_id


async def test_generation_round_trip_publishes_a_png(jobs, run_worker, redis_conn, tiny_models):
    job_id = await submit_imagine(jobs, 1)
    run_worker()
    [event] = events(redis_conn)
    assert (event.job_id, event.kind, event.ok, event.prompt, event.seed) == (
        job_id,
        "imagine",
        True,
        "кот в космосе",
        42,
    )
    assert event.chat == chat(1)
    [key] = event.image_keys
    image = Image.open(io.BytesIO(redis_conn.get(key)))
    assert image.format == "PNG"
    assert image.size == tiny_models.generator.default_size
    assert 0 < redis_conn.ttl(key) <= 24 * 3600


async def test_jobs_are_stored_as_json_not_pickle(jobs, redis_conn):
    job_id = await submit_imagine(jobs, 2)
    raw = zlib.decompress(redis_conn.hget(f"rq:job:{job_id}", "data"))  # RQ compresses the payload
    func, _instance, args, _kwargs = json.loads(raw)
    assert func == "workers.jobs.generate"
    assert args[0]["prompt"] == "кот в космосе"


async def test_a_repeated_event_is_not_enqueued_twice(jobs, redis_conn):
    await submit_imagine(jobs, 3)
    again = await jobs.submit_generate(job_id_for(chat(3), "imagine"), GenerateJob(chat=chat(3), prompt="кот", seed=1))
    assert again is None
    assert Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer).count == 1


async def test_same_seed_same_picture_through_the_whole_path(jobs, run_worker, redis_conn):
    await submit_imagine(jobs, 4, seed=7)
    run_worker()
    await submit_imagine(jobs, 5, seed=7)
    run_worker()
    await submit_imagine(jobs, 6, seed=8)
    run_worker()
    first, second, other = (redis_conn.get(event.image_keys[0]) for event in events(redis_conn))
    assert first == second
    assert first != other


async def test_classification_among_the_users_labels(jobs, run_worker, redis_conn):
    labels = ["кошка", "собака", "медведь"]
    job_id = await submit_classify(jobs, 7, labels, images.png(64, 64))
    run_worker()
    [event] = events(redis_conn)
    assert event.ok and event.kind == "classify" and event.user_labels
    assert sorted(label.label for label in event.labels) == sorted(labels)
    scores = [label.score for label in event.labels]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-4)
    assert not redis_conn.exists(input_key(job_id)), "the photo is removed once classified"


async def test_classification_without_labels_uses_the_default_set(jobs, run_worker, redis_conn):
    await submit_classify(jobs, 8, None, images.png(64, 64, (20, 200, 20)))
    run_worker()
    [event] = events(redis_conn)
    assert not event.user_labels
    assert len(event.labels) == 10
    assert {label.label for label in event.labels} <= set(default_labels())


async def test_a_job_that_keeps_failing_is_retried_then_reported_once(jobs, run_worker, redis_conn):
    job_id = await submit_classify(jobs, 9, ["кошка"], images.png())
    redis_conn.delete(input_key(job_id))  # the photo expired: every attempt fails
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.job_id, event.error_ref) == (False, job_id, error_reference(job_id))
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == "failed"
    assert job.retries_left == 0
    assert CLASSIFY_POLICY.retries == 2
    assert job_id in FailedJobRegistry(CLASSIFY_QUEUE, connection=redis_conn)


async def test_photos_are_served_before_pictures(jobs, run_worker, redis_conn):
    await submit_imagine(jobs, 10)
    await submit_classify(jobs, 11, ["кошка", "собака"], images.png())
    run_worker()
    assert [event.kind for event in events(redis_conn)] == ["classify", "imagine"]


def test_jobs_run_in_the_worker_process_where_the_models_are(redis_conn, run_worker, tiny_models):
    """No fork per job: a job sees the worker's own pid and its already loaded models."""
    queue = Queue(CLASSIFY_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    pid_job = queue.enqueue("os.getpid")
    run_worker()
    assert pid_job.return_value() == os.getpid()
    assert runtime.models() is tiny_models


def test_queue_setting():
    assert parse_queues("") == DEFAULT_QUEUES
    assert parse_queues(" molbert-generate , ") == ("molbert-generate",)
