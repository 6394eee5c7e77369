"""Scale-out: several real ``python -m workers`` processes on one Redis share the queues, and no job runs twice.

This is the multi-host layout (docs/deploy.md) on one machine: each process is what a GPU host runs, and the
only thing they share is ``REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from functools import partial

from rq.job import Job
from rq.serializers import JSONSerializer

from bot.queue import RedisJobs
from core.keys import input_key, result_stream
from core.protocol import ClassifyJob, GenerateJob, ResultEvent, job_id_for
from tests import factories, images
from tests.processes import ManagedProcess

PLATFORM = "telegram"
WORKERS = ("gpu-a", "gpu-b")
CLASSIFY_JOBS = 24
GENERATE_JOBS = 2


chat = partial(factories.chat, chat_id=500, user_id=5, platform=PLATFORM)


def result_events(redis_conn) -> list[ResultEvent]:
    """Every result event on the Telegram result stream (progress reports left out)."""
    entries = redis_conn.xrange(result_stream(PLATFORM))
    events = [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]
    return [event for event in events if event.kind != "progress"]


async def wait_for_results(redis_conn, count: int, processes: list[ManagedProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(result_events(redis_conn)) < count:
        if time.monotonic() > deadline:
            logs = "\n".join(process.log for process in processes)
            raise AssertionError(f"{len(result_events(redis_conn))} of {count} results; worker logs:\n{logs}")
        await asyncio.sleep(0.2)


async def test_jobs_spread_across_worker_processes_and_none_runs_twice(
    redis_url, redis_conn, model_cache_dir, tmp_path
):
    env = {
        "REDIS_URL": redis_url,
        "MODEL_PRESET": "tiny",
        "MODEL_CACHE_DIR": str(model_cache_dir),
        "WORKER_BATCH_SIZE": "4",  # micro-batches on both workers: each photo must still be answered once
    }
    workers = [
        ManagedProcess(["-m", "workers"], {**env, "WORKER_NAME": name}, cwd=tmp_path, log_path=tmp_path / f"{name}.log")
        for name in WORKERS
    ]
    try:
        for worker in workers:
            await worker.wait_for_log("ready: preset tiny", timeout=180)

        jobs = RedisJobs(redis_conn)
        job_ids = []
        for n in range(GENERATE_JOBS):
            job_id = job_id_for(chat(n), "imagine")
            job = GenerateJob(chat=chat(n), prompt="маяк на скале", seed=n)
            assert await jobs.submit_generate(job_id, job) is not None
            job_ids.append(job_id)
        for n in range(GENERATE_JOBS, GENERATE_JOBS + CLASSIFY_JOBS):
            job_id = job_id_for(chat(n), "classify")
            job = ClassifyJob(chat=chat(n), image_key=input_key(job_id), labels=["кошка", "собака"])
            assert await jobs.submit_classify(job_id, job, images.png(64, 64, (n, 100, 200))) is not None
            job_ids.append(job_id)

        await wait_for_results(redis_conn, len(job_ids), workers, timeout=240)
        await asyncio.sleep(1.0)  # a job run twice would add a second event a little later

        events = result_events(redis_conn)
        per_job = collections.Counter(event.job_id for event in events)
        assert per_job == collections.Counter(job_ids), "every job exactly one result event"
        assert all(event.ok for event in events), [event for event in events if not event.ok]

        ran_by = {
            job_id: Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).worker_name
            for job_id in job_ids
        }
        assert set(ran_by.values()) <= set(WORKERS), ran_by
        spread = collections.Counter(ran_by.values())
        assert len(spread) >= 2, f"all jobs ran on one worker: {spread}"
        for worker in workers:
            assert "Traceback" not in worker.log, worker.log
    finally:
        codes = [await asyncio.to_thread(worker.stop) for worker in workers]
    assert codes == [0] * len(WORKERS), "\n".join(worker.log for worker in workers)
