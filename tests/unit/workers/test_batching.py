"""Micro-batching of classification jobs: one image-encoder pass for several waiting photos, same answers."""

from __future__ import annotations

import dataclasses
import io
from functools import partial

import pytest
from PIL import Image
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FinishedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from bot.queue import RedisJobs
from core.keys import answered_key, input_key, result_stream
from core.protocol import CLASSIFY_QUEUE, ClassifyJob, ResultEvent, job_id_for
from models.classifier import ZeroShotClassifier
from models.labels import default_labels
from tests import factories
from tests.factories import work_until_empty
from workers import runtime

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 20), (10, 10, 10)]
LABEL_SETS = [None, ["кошка", "собака"], None, ["море", "небо", "лес"], ["жираф"]]


chat = partial(factories.chat, chat_id=100)


def photo(index: int) -> Image.Image:
    return Image.new("RGB", (40 + 3 * index, 40), COLORS[index])


@pytest.fixture
def counted(tiny_models, monkeypatch):
    """Counts the image-encoder forward passes and the images in each."""
    model = tiny_models.classifier.model
    original = model.get_image_features
    calls: list[int] = []

    def get_image_features(*args, pixel_values, **kwargs):
        calls.append(len(pixel_values))
        return original(*args, pixel_values=pixel_values, **kwargs)

    monkeypatch.setattr(model, "get_image_features", get_image_features)
    return calls


def test_batched_results_equal_unbatched(tiny_models):
    classifier = tiny_models.classifier
    labels = [list(default_labels()), ["кошка", "собака"], ["кошка", "собака"], ["море", "небо", "лес"]]
    pictures = [photo(i) for i in range(len(labels))]
    batched = classifier.classify_batch(pictures, labels)
    for picture, label_list, result in zip(pictures, labels, batched, strict=True):
        alone = classifier.classify(picture, label_list)
        assert [label for label, _ in result] == [label for label, _ in alone]
        assert [score for _, score in result] == pytest.approx([score for _, score in alone], abs=1e-5)


def test_a_batch_needs_one_label_list_per_image(tiny_models):
    with pytest.raises(ValueError):
        tiny_models.classifier.classify_batch([photo(0)], [])
    with pytest.raises(ValueError):
        tiny_models.classifier.classify_batch([photo(0)], [[]])
    assert tiny_models.classifier.classify_batch([], []) == []


async def queue_photos(redis_conn) -> list[str]:
    jobs = RedisJobs(redis_conn)
    ids = []
    for index, labels in enumerate(LABEL_SETS):
        job_id = job_id_for(chat(index + 1), "classify")
        buffer = io.BytesIO()
        photo(index).save(buffer, format="JPEG")
        job = ClassifyJob(chat=chat(index + 1), image_key=input_key(job_id), labels=labels)
        assert await jobs.submit_classify(job_id, job, buffer.getvalue()) is not None
        ids.append(job_id)
    return ids


def run_worker(redis_conn, tiny_models, batch_size: int) -> None:
    runtime.set_batch_size(batch_size)
    try:
        work_until_empty(tiny_models, redis_conn)
    finally:
        runtime.set_batch_size(8)


def results(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream("telegram"))
    return [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]


async def test_waiting_jobs_are_classified_in_one_forward_pass(redis_conn, tiny_models, counted):
    ids = await queue_photos(redis_conn)
    run_worker(redis_conn, tiny_models, batch_size=8)
    assert counted == [len(ids)], "one image-encoder pass for all five photos"
    events = results(redis_conn)
    assert sorted(event.job_id for event in events) == sorted(ids), "exactly one result per job"
    queue = Queue(CLASSIFY_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    assert queue.count == 0
    assert StartedJobRegistry(queue=queue).count == 0
    assert sorted(FinishedJobRegistry(queue=queue).get_job_ids()) == sorted(ids)
    for job_id in ids:
        job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value()["labels"], "a batched job still returns its labels"
        assert not redis_conn.exists(input_key(job_id))
    question = next(event for event in events if event.job_id == ids[4])
    assert question.question == "жираф" and question.label_count > 300


async def test_batched_answers_equal_unbatched_answers(redis_conn, tiny_models, counted):
    await queue_photos(redis_conn)
    run_worker(redis_conn, tiny_models, batch_size=1)
    assert counted == [1] * len(LABEL_SETS)
    alone = {event.job_id: event for event in results(redis_conn)}
    redis_conn.flushall()
    counted.clear()
    await queue_photos(redis_conn)
    run_worker(redis_conn, tiny_models, batch_size=3)
    assert counted == [3, 2]
    batched = {event.job_id: event for event in results(redis_conn)}
    assert batched.keys() == alone.keys()
    for job_id, event in batched.items():
        assert [label.label for label in event.labels] == [label.label for label in alone[job_id].labels]
        assert [label.score for label in event.labels] == pytest.approx(
            [label.score for label in alone[job_id].labels], abs=1e-5
        )
        assert (event.user_labels, event.label_count, event.question) == (
            alone[job_id].user_labels,
            alone[job_id].label_count,
            alone[job_id].question,
        )


async def test_an_answered_job_is_not_classified_again(redis_conn, tiny_models, counted):
    [first, *_] = await queue_photos(redis_conn)
    redis_conn.set(answered_key(first), '{"labels": []}')
    run_worker(redis_conn, tiny_models, batch_size=8)
    assert counted == [len(LABEL_SETS) - 1]
    assert first not in {event.job_id for event in results(redis_conn)}


async def test_a_job_whose_claimer_vanished_answers_itself(redis_conn, tiny_models, counted, monkeypatch):
    monkeypatch.setattr("workers.jobs.CLAIM_WAIT", 0.2)
    [first, *_] = await queue_photos(redis_conn)
    redis_conn.set(answered_key(first), "claimed:a-worker-that-was-killed")
    run_worker(redis_conn, tiny_models, batch_size=1)
    assert sorted(event.job_id for event in results(redis_conn)).count(first) == 1


async def test_a_question_through_the_worker_encodes_only_its_label(redis_conn, tiny_models, monkeypatch):
    shared = tiny_models.classifier
    classifier = ZeroShotClassifier(shared.model, shared.processor, shared.name, "cpu")
    classifier.preload_labels(default_labels())
    prompts: list[int] = []
    original = classifier.model.get_text_features

    def spy(*args, input_ids, **kwargs):
        prompts.append(len(input_ids))
        return original(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(classifier.model, "get_text_features", spy)
    job_id = job_id_for(chat(1), "classify")
    buffer = io.BytesIO()
    photo(0).save(buffer, format="JPEG")
    job = ClassifyJob(chat=chat(1), image_key=input_key(job_id), labels=["тюлень на льдине"])
    assert await RedisJobs(redis_conn).submit_classify(job_id, job, buffer.getvalue()) is not None
    run_worker(redis_conn, dataclasses.replace(tiny_models, classifier=classifier), batch_size=8)
    (event,) = results(redis_conn)
    assert event.question == "тюлень на льдине" and event.label_count == len(default_labels()) + 1
    assert sum(prompts) == len(classifier.templates)  # the question's label, not the default set again
