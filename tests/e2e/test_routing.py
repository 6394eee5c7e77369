"""Queues per GPU class with real workers: two ``python -m workers`` processes, each listening on one generator's
queue (``WORKER_QUEUES``), and every picture painted by the workers of the class its ``--model`` names."""

from __future__ import annotations

import asyncio
import time

from rq.job import Job
from rq.serializers import JSONSerializer

from bot.queue import RedisJobs
from handlers.routing import GeneratorRoutes
from tests.factories import chat, make_molbert
from tests.processes import ManagedProcess

ROUTES = GeneratorRoutes.parse("quality=molbert-generate-big, fast=molbert-generate-small")


async def test_each_generator_class_is_painted_only_by_its_own_workers(
    redis_url, redis_conn, model_cache_dir, tmp_path
):
    env = {"REDIS_URL": redis_url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir)}
    workers = {
        name: ManagedProcess(
            ["-m", "workers"],
            {**env, "WORKER_NAME": name, "WORKER_QUEUES": queue},
            cwd=tmp_path,
            log_path=tmp_path / f"{name}.log",
        )
        for name, queue in (("big-gpu", "molbert-generate-big"), ("small-gpu", "molbert-generate-small"))
    }
    try:
        for worker in workers.values():
            await worker.wait_for_log("ready: preset tiny", timeout=180)
        molbert = make_molbert(RedisJobs(redis_conn, ROUTES), routes=ROUTES)
        from tests.memory import MemoryOutbox

        outbox = MemoryOutbox()
        wanted = {"quality": "big-gpu", "fast": "small-gpu"}
        job_ids = {
            await molbert.imagine(chat(n), f"маяк на скале --model {model} --seed {n}", outbox): worker
            for n, model in enumerate(["quality", "fast", "quality", "fast"])
            for worker in [wanted[model]]
        }

        deadline = time.monotonic() + 180
        while not all(_finished(redis_conn, job_id) for job_id in job_ids):
            assert time.monotonic() < deadline, "\n".join(w.log for w in workers.values())
            await asyncio.sleep(0.3)
        ran_on = {
            job_id: Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).worker_name
            for job_id in job_ids
        }
        assert ran_on == job_ids
    finally:
        for worker in workers.values():
            await asyncio.to_thread(worker.stop)


def _finished(redis_conn, job_id: str) -> bool:
    return Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).get_status() == "finished"
