"""/queue and /cancel on a real Redis with the real worker: places, cancelling waiting and running jobs."""

from __future__ import annotations

from functools import partial

import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.limits import RedisAdmission
from bot.queue import RedisJobs
from core.keys import cancel_key, rank_input_key, result_stream
from core.protocol import GenerateJob, RankJob, ResultEvent, job_id_for
from handlers.limits import LimitPolicy
from handlers.service import Molbert
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox

chat = partial(factories.chat, chat_id=10, user_id=1)


@pytest.fixture
def molbert(redis_conn) -> Molbert:
    return make_molbert(RedisJobs(redis_conn), admission=RedisAdmission(redis_conn, LimitPolicy(concurrent_per_user=5)))


def events(redis_conn) -> list[ResultEvent]:
    return [ResultEvent.model_validate_json(f[b"event"]) for _i, f in redis_conn.xrange(result_stream("telegram"))]


async def test_queue_lists_the_users_jobs_in_this_chat_with_places(molbert):
    outbox = MemoryOutbox()
    await molbert.imagine(chat(1), "кот", outbox)
    await molbert.imagine(chat(2), "пёс", outbox)
    await molbert.imagine(chat(3, user_id=2), "чужой", outbox)
    await molbert.imagine(chat(4, chat_id=99), "в другом чате", outbox)
    await molbert.queue(chat(5), outbox)
    assert outbox.texts[-1].splitlines() == [
        t("queue_header", "ru"),
        t("queue_waiting", "ru", number=1, what="🎨 «кот»", position=1),
        t("queue_waiting", "ru", number=2, what="🎨 «пёс»", position=2),
    ]


async def test_an_empty_queue_says_so(molbert):
    outbox = MemoryOutbox()
    await molbert.queue(chat(1), outbox)
    assert outbox.texts == [t("queue_empty", "ru")]


async def test_cancel_takes_waiting_jobs_off_the_queue(molbert, redis_conn, tiny_models):
    outbox = MemoryOutbox()
    cat = await molbert.imagine(chat(1), "кот", outbox)
    dog = await molbert.imagine(chat(2), "пёс", outbox)
    await molbert.cancel(chat(3), outbox)
    assert outbox.texts[-1] == t("cancel_done", "ru", count=2)
    assert Job.fetch(cat, connection=redis_conn, serializer=JSONSerializer).get_status() == JobStatus.CANCELED
    work_until_empty(tiny_models, redis_conn)
    assert {(e.job_id, e.error_key) for e in events(redis_conn)} == {(cat, "cancelled"), (dog, "cancelled")}
    await molbert.imagine(chat(4), "снова", outbox)  # the slots are free again
    assert outbox.texts[-1].startswith("⏳")


async def test_a_running_job_is_flagged_and_stops_at_its_next_step(redis_conn, tiny_models):
    jobs = RedisJobs(redis_conn)
    job_id = job_id_for(chat(1), "imagine")
    await jobs.submit_generate(job_id, GenerateJob(chat=chat(1), prompt="кот", seed=1, steps=4))
    Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).set_status(JobStatus.STARTED)
    assert await jobs.cancel(chat(1), job_id)  # the frontend's half: a flag for the worker
    assert redis_conn.exists(cancel_key(job_id))
    Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).set_status(JobStatus.QUEUED)
    work_until_empty(tiny_models, redis_conn)  # the worker's half: the first step sees the flag
    [event] = events(redis_conn)
    assert (event.job_id, event.ok, event.error_key) == (job_id, False, "cancelled")
    assert not redis_conn.exists(cancel_key(job_id))
    assert not any(event.image_keys for event in events(redis_conn))


async def test_a_running_photo_is_too_late_to_cancel(redis_conn, molbert):
    """Only painting checks for a stop: a photo being scored would be answered anyway, so the user is told so."""
    job_id = await molbert.classify(chat(1), _download, None, "кошка, собака", MemoryOutbox())
    Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).set_status(JobStatus.STARTED)
    assert not await RedisJobs(redis_conn).cancel(chat(1), job_id)
    assert not redis_conn.exists(cancel_key(job_id))


async def test_a_finished_job_cannot_be_cancelled(redis_conn, tiny_models, molbert):
    outbox = MemoryOutbox()
    job_id = await molbert.classify(chat(1), _download, None, "кошка, собака", outbox)
    work_until_empty(tiny_models, redis_conn)
    assert not await RedisJobs(redis_conn).cancel(chat(1), job_id)
    await molbert.cancel(chat(2), outbox)
    assert outbox.texts[-1] == t("queue_empty", "ru")


async def test_a_cancelled_ranking_is_reported_as_a_ranking(redis_conn):
    """A ranking waits on the photo queue but is no classification: its "cancelled" event says ``rank`` (the
    delivery log and metrics count jobs by kind)."""
    jobs = RedisJobs(redis_conn)
    job_id = job_id_for(chat(1), "rank")
    keys = [rank_input_key(job_id, index) for index in range(2)]
    await jobs.submit_rank(job_id, RankJob(chat=chat(1), query="кот", image_keys=keys), [images.png()] * 2)
    assert await jobs.cancel(chat(1), job_id)
    [event] = events(redis_conn)
    assert (event.job_id, event.kind, event.ok, event.error_key) == (job_id, "rank", False, "cancelled")


async def _download() -> bytes:
    return images.png()
