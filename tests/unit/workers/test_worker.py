"""The worker on a real Redis: jobs queued by the frontend's client, run by MolbertWorker on the tiny models."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import zlib
from functools import partial

import pytest
import redis.client
from PIL import Image
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bot.queue import CLASSIFY_POLICY, RedisJobs
from core.keys import image_key, input_key, result_stream
from core.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE, ClassifyJob, GenerateJob, ResultEvent, job_id_for
from handlers.ports import Queued
from models.labels import default_labels
from tests import factories, images
from workers import runtime
from workers.jobs import error_reference
from workers.safety import ImageSafety, blur
from workers.worker import DEFAULT_QUEUES, MolbertWorker, parse_queues

PLATFORM = "telegram"


chat = partial(factories.chat, chat_id=100, platform=PLATFORM)


@pytest.fixture
def jobs(redis_conn) -> RedisJobs:
    return RedisJobs(redis_conn)


def all_events(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream(PLATFORM))
    return [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]


def events(redis_conn) -> list[ResultEvent]:
    """The result events (progress reports left out: how many there are depends on the machine's speed)."""
    return [event for event in all_events(redis_conn) if event.kind != "progress"]


async def submit_imagine(
    jobs: RedisJobs, message_id: int, prompt: str = "кот в космосе", seed: int = 42, **fields
) -> str:
    job_id = job_id_for(chat(message_id), "imagine")
    job = GenerateJob(chat=chat(message_id), prompt=prompt, seed=seed, **fields)
    assert await jobs.submit_generate(job_id, job) is not None
    return job_id


def png_size(redis_conn, key: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(redis_conn.get(key))).size


async def submit_classify(jobs: RedisJobs, message_id: int, labels: list[str] | None, image: bytes) -> str:
    job_id = job_id_for(chat(message_id), "classify")
    job = ClassifyJob(chat=chat(message_id), image_key=input_key(job_id), labels=labels)
    assert await jobs.submit_classify(job_id, job, image) is not None
    return job_id


async def test_generation_round_trip_publishes_a_png(jobs, run_worker, redis_conn, tiny_models):
    job_id = await submit_imagine(jobs, 1)
    run_worker()
    [event] = events(redis_conn)
    assert (event.job_id, event.kind, event.ok, event.generation.prompt, event.generation.seed) == (
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


async def test_one_label_is_scored_against_the_everyday_categories(jobs, run_worker, redis_conn):
    await submit_classify(jobs, 35, ["жираф"], images.png(64, 64))
    run_worker()
    [event] = events(redis_conn)
    assert event.question == "жираф"
    assert event.label_count == len(default_labels())  # жираф is one of them: counted once
    assert set(default_labels()) >= {label.label for label in event.labels}
    assert sum(label.score for label in event.labels) < 1.0  # the top ten of many, not a one-label softmax


async def test_classification_without_labels_uses_the_default_set(jobs, run_worker, redis_conn):
    await submit_classify(jobs, 8, None, images.png(64, 64, (20, 200, 20)))
    run_worker()
    [event] = events(redis_conn)
    assert not event.user_labels
    assert len(event.labels) == 10
    assert {label.label for label in event.labels} <= set(default_labels())


async def test_a_job_that_keeps_failing_is_retried_then_reported_once(jobs, run_worker, redis_conn):
    job_id = await submit_classify(jobs, 9, ["кошка"], images.png())
    redis_conn.set(input_key(job_id), b"garbage, not a JPEG")  # every attempt fails to decode it
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.job_id, event.error_ref) == (False, job_id, error_reference(job_id))
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == "failed"
    assert job.retries_left == 0
    assert CLASSIFY_POLICY.retries == 2
    assert job_id in FailedJobRegistry(CLASSIFY_QUEUE, connection=redis_conn)


def test_a_picture_whose_request_does_not_validate_still_gets_its_error_reference(run_worker, redis_conn, caplog):
    """A payload the worker cannot read (here: no prompt) fails every attempt; its chat must still be told."""
    from rq import Callback, Retry

    from core.protocol import FAILURE_CALLBACK, GENERATE_FUNC

    job_id = job_id_for(chat(13), "imagine")
    broken = {"chat": chat(13).model_dump(), "seed": 1, "negative": "секретное слово"}
    queue = Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue.enqueue(GENERATE_FUNC, broken, job_id=job_id, retry=Retry(max=1), on_failure=Callback(FAILURE_CALLBACK))
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.job_id, event.error_ref, event.generation) == (False, job_id, error_reference(job_id), None)
    assert "секретное слово" not in caplog.text, "the request's words do not go to the log"


def test_a_failing_jobs_log_lines_hold_none_of_its_request_in_either_log_format(run_worker, redis_conn, caplog):
    """RQ logs a job's exception with the job's arguments as the record's extras and the exception's message in
    its traceback; our log formats print extras, and pydantic's message repeats the payload it could not read
    (here the whole request, prompt included). Neither may reach the log (the prompt is the user's words)."""
    from rq import Retry

    from core.protocol import GENERATE_FUNC
    from core.telemetry import JSON_FORMAT, TEXT_FORMAT, JsonFormatter, TextFormatter

    job_id = job_id_for(chat(14), "imagine")
    broken = {"prompt": "секретное слово", "seed": 1}  # no chat: pydantic's message shows this whole dict
    queue = Queue(GENERATE_QUEUE, connection=redis_conn, serializer=JSONSerializer)
    queue.enqueue(GENERATE_FUNC, broken, job_id=job_id, retry=Retry(max=1))
    with caplog.at_level(logging.INFO):
        run_worker()
    assert any(record.levelno >= logging.ERROR for record in caplog.records), "the failure is logged"
    for formatter in (TextFormatter(TEXT_FORMAT), JsonFormatter(JSON_FORMAT)):
        lines = "\n".join(formatter.format(record) for record in caplog.records)
        assert "секретное слово" not in lines, f"{type(formatter).__name__}: {lines}"


def test_a_worker_starting_while_redis_is_away_waits_for_it(redis_server, tmp_path, monkeypatch, caplog):
    """Redis comes up only after the worker's first try (here: its socket appears): the worker waits, then goes on."""
    import redis

    from workers.worker import wait_for_redis

    later = tmp_path / "redis.sock"
    pauses = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if not later.exists():
            later.symlink_to(redis_server.removeprefix("unix://"))

    monkeypatch.setattr("workers.worker.time.sleep", pause)
    wait_for_redis(redis.Redis(unix_socket_path=str(later)))
    assert pauses == [1.0]
    assert "Redis does not answer" in caplog.text


def test_a_cleaning_pass_cut_off_by_redis_leaves_no_lock_behind(redis_conn, tiny_models, monkeypatch):
    """RQ left a queue's cleaning lock for 899 s when a pass failed, so no worker re-queued that queue's abandoned
    jobs for 15 minutes; the lock must go with the pass, and never be held long."""
    import redis
    from rq.registry import clean_registries

    from workers.worker import MAINTENANCE_LOCK_SECONDS

    worker = MolbertWorker(tiny_models, redis_conn, queues=(GENERATE_QUEUE,))
    lock = worker.queues[0].registry_cleaning_key
    held_for = []

    def cut_off(queue, *args):
        held_for.append(redis_conn.ttl(lock))
        raise redis.ConnectionError("Redis went away in the middle of the pass")

    monkeypatch.setattr("workers.worker.clean_registries", cut_off)
    try:
        with pytest.raises(redis.ConnectionError):
            worker.clean_registries()
        assert redis_conn.exists(lock) == 0
        assert 0 < held_for[0] <= MAINTENANCE_LOCK_SECONDS
        monkeypatch.setattr("workers.worker.clean_registries", clean_registries)
        worker.clean_registries()  # the next pass runs
        assert worker.last_cleaned_at is not None and redis_conn.exists(lock) == 0
    finally:
        runtime.set_models(None)


def test_a_stopping_worker_leaves_rqs_command_channel_at_once(redis_conn, tiny_models):
    """RQ's command-channel thread read for 60 s at a time and redis-py's ``stop()`` joins it, so a worker told to
    stop could hang in its teardown for up to a minute (past compose's and the tests' 30 s grace period)."""
    worker = MolbertWorker(tiny_models, redis_conn, queues=(GENERATE_QUEUE,))
    try:
        worker.subscribe()
        time.sleep(0.3)  # the thread is in its read now
        started = time.monotonic()
        worker.pubsub_thread.stop()  # redis-py ≥ 7 joins the thread here; older ones only flag it
        worker.pubsub_thread.join(timeout=10)
        assert not worker.pubsub_thread.is_alive(), "the command-channel thread is still reading"
        assert time.monotonic() - started < 5
        worker.unsubscribe()
    finally:
        runtime.set_models(None)


def test_a_stopping_worker_never_closes_the_command_channel_under_its_reading_thread(
    redis_conn, tiny_models, monkeypatch
):
    """RQ's ``unsubscribe`` joins the command-channel thread for 1 s and then closes the pub/sub itself; on a busy
    machine the thread is still in its read, and two threads closing one ``PubSub`` race in redis-py's ``reset``
    (``'NoneType' object has no attribute '_deregister_connect_callback'`` from a worker's teardown, seen in CI).
    A read that takes 1.5 s here stands in for the busy machine."""
    worker = MolbertWorker(tiny_models, redis_conn, queues=(GENERATE_QUEUE,))
    try:
        read = redis.client.PubSub.get_message
        monkeypatch.setattr(redis.client.PubSub, "get_message", lambda *a, **kw: (time.sleep(1.5), read(*a, **kw))[1])
        worker.subscribe()
        pubsub, thread = worker.pubsub, worker.pubsub_thread
        close = pubsub.close
        closed_under_the_reader = []  # a close from another thread while the reading thread still runs

        def close_watched() -> None:
            closed_under_the_reader.append(threading.current_thread() is not thread and thread.is_alive())
            close()

        pubsub.close = close_watched
        time.sleep(0.2)  # the thread is in its slow read now
        worker.unsubscribe()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert closed_under_the_reader and not any(closed_under_the_reader)
    finally:
        runtime.set_models(None)


async def test_an_expired_photo_is_explained_without_retries(jobs, run_worker, redis_conn):
    job_id = await submit_classify(jobs, 12, ["кошка"], images.png())
    redis_conn.delete(input_key(job_id))
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.error_key) == (False, "photo_gone")
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == "finished"


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


async def test_four_images_come_with_a_two_by_two_grid(jobs, run_worker, redis_conn, tiny_models):
    await submit_imagine(jobs, 20, num_images=4)
    run_worker()
    [event] = events(redis_conn)
    assert len(event.image_keys) == 4
    width, height = tiny_models.generator.default_size
    assert png_size(redis_conn, event.grid_key) == (2 * width, 2 * height)
    assert len({redis_conn.get(key) for key in event.image_keys}) == 4, "four different pictures"


async def test_aspect_ratio_is_snapped_to_the_models_grid(jobs, run_worker, redis_conn, tiny_models):
    await submit_imagine(jobs, 21, aspect=(16, 9))
    run_worker()
    [event] = events(redis_conn)
    width, height = png_size(redis_conn, event.image_keys[0])
    assert width > height
    assert width % tiny_models.generator.size_multiple == 0 and height % tiny_models.generator.size_multiple == 0


async def test_style_and_negative_words_change_the_picture(jobs, run_worker, redis_conn):
    await submit_imagine(jobs, 22, seed=3)
    await submit_imagine(jobs, 23, seed=3, model_prompt="кот в космосе, акварельная живопись")
    await submit_imagine(jobs, 24, seed=3, model_negative="люди")
    run_worker()
    plain, styled, negative = (redis_conn.get(event.image_keys[0]) for event in events(redis_conn))
    assert plain != styled and plain != negative


async def test_a_variation_starts_from_the_stored_image(jobs, run_worker, redis_conn):
    source_id = await submit_imagine(jobs, 25, aspect=(2, 1))
    run_worker()
    [source] = events(redis_conn)
    await submit_imagine(jobs, 26, seed=9, init_image_key=source.image_keys[0], num_images=2)
    run_worker()
    variation = events(redis_conn)[-1]
    assert variation.ok and variation.generation.init_image_key == image_key(source_id, 0)
    assert [png_size(redis_conn, key) for key in variation.image_keys] == [
        png_size(redis_conn, source.image_keys[0])
    ] * 2


async def test_a_variation_of_an_expired_image_is_explained(jobs, run_worker, redis_conn):
    await submit_imagine(jobs, 27, init_image_key=image_key("gone-job", 0))
    run_worker()
    [event] = events(redis_conn)
    assert (event.ok, event.error_key) == (False, "variation_source_gone")


async def test_progress_is_reported_to_the_chat(jobs, run_worker, redis_conn, monkeypatch):
    monkeypatch.setattr("workers.progress.PROGRESS_INTERVAL", 0.0)
    job_id = await submit_imagine(jobs, 28, steps=4)
    run_worker()
    progress = [event for event in all_events(redis_conn) if event.kind == "progress"]
    assert [event.progress for event in progress] == [0.25, 0.5, 0.75]
    assert {event.job_id for event in progress} == {job_id}
    assert all(event.seconds is not None and event.seconds >= 0 for event in progress), "each says the time left"
    assert all_events(redis_conn)[-1].kind == "imagine", "the result comes after the progress reports"


async def test_workers_record_durations_for_wait_estimates(jobs, run_worker):
    assert await jobs.typical_seconds(GENERATE_QUEUE) is None
    await submit_imagine(jobs, 33)
    await submit_classify(jobs, 34, ["кошка"], images.png())
    run_worker()
    assert await jobs.typical_seconds(GENERATE_QUEUE) > 0
    assert await jobs.typical_seconds(CLASSIFY_QUEUE) > 0


async def test_a_submission_says_its_place_and_the_typical_time_and_is_counted(jobs, run_worker, redis_conn):
    first = GenerateJob(chat=chat(36), prompt="кот", seed=1)
    assert await jobs.submit_generate(job_id_for(chat(36), "imagine"), first) == Queued(1, None)
    second = GenerateJob(chat=chat(37), prompt="пёс", seed=2)
    assert await jobs.submit_generate(job_id_for(chat(37), "imagine"), second) == Queued(2, None)
    assert [queue.name for queue in Queue.all(connection=redis_conn)] == [GENERATE_QUEUE]
    run_worker()
    third = await jobs.submit_generate(job_id_for(chat(38), "imagine"), GenerateJob(chat=chat(38), prompt="ёж", seed=3))
    assert third.position == 1
    assert third.typical_seconds == await jobs.typical_seconds(GENERATE_QUEUE) > 0
    assert (await jobs.stats()).jobs_today == 3
    assert (await jobs.load_generation(job_id_for(chat(38), "imagine"))).prompt == "ёж"


async def test_buttons_find_the_request_and_images_later(jobs, run_worker, redis_conn):
    job_id = await submit_imagine(jobs, 29, num_images=2, style="аниме")
    run_worker()
    assert (await jobs.load_generation(job_id)).style == "аниме"
    assert await jobs.load_image(job_id, 1) == redis_conn.get(events(redis_conn)[0].image_keys[1])
    assert await jobs.load_generation("never-made") is None


async def test_best_of_keeps_the_candidates_clip_ranks_highest(jobs, run_worker, redis_conn, tiny_models):
    """ruDALL-E's scheme: generate K, rank by CLIP similarity to the prompt, keep the best N — in the model's
    order, not the generation order (a seed is chosen where the two differ, so the test can tell)."""
    prompt, generator, classifier = "кот в космосе", tiny_models.generator, tiny_models.classifier

    def candidates(seed: int) -> list[Image.Image]:
        return generator.generate(prompt, seed=seed, num_images=4)

    seed = next(s for s in range(50) if classifier.rank_images(candidates(s), prompt)[:2] != [0, 1])
    expected = candidates(seed)
    order = classifier.rank_images(expected, prompt)
    await submit_imagine(jobs, 30, prompt=prompt, seed=seed, num_images=2, best_of=4)
    run_worker()
    [event] = events(redis_conn)
    kept = [Image.open(io.BytesIO(redis_conn.get(key))).convert("RGB") for key in event.image_keys]
    assert [image.tobytes() for image in kept] == [expected[index].tobytes() for index in order[:2]]


async def test_the_output_check_blurs_flagged_images_before_they_are_stored(jobs, run_worker, redis_conn, tiny_models):
    """Forced through the label set: with "кот" the only label, every picture scores 1.0 unsafe."""
    prompt, seed = "кот в космосе", 5
    [original] = tiny_models.generator.generate(prompt, seed=seed)
    await submit_imagine(jobs, 31, prompt=prompt, seed=seed)
    run_worker(ImageSafety(tiny_models.classifier, unsafe_labels=("кот",), safe_labels=()))
    [event] = events(redis_conn)
    assert event.hidden == [0]
    stored = Image.open(io.BytesIO(redis_conn.get(event.image_keys[0]))).convert("RGB")
    assert stored.tobytes() == blur(original).tobytes()
    assert stored.tobytes() != original.tobytes()


async def test_safe_images_pass_the_output_check_untouched(jobs, run_worker, redis_conn, tiny_models):
    prompt, seed = "кот в космосе", 6
    [original] = tiny_models.generator.generate(prompt, seed=seed)
    await submit_imagine(jobs, 32, prompt=prompt, seed=seed)
    run_worker(ImageSafety(tiny_models.classifier, unsafe_labels=("кот",), safe_labels=("пёс",), threshold=1.0))
    [event] = events(redis_conn)
    assert event.hidden == []
    assert Image.open(io.BytesIO(redis_conn.get(event.image_keys[0]))).convert("RGB").tobytes() == original.tobytes()
