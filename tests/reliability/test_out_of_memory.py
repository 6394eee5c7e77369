"""In-process (MolbertWorker on the tiny models and a real Redis): a job that runs out of accelerator memory gets a
clear refusal without RQ retries, and the worker goes on to serve the next job; and a worker whose ``work()`` quit
on a Redis error comes back by itself (``MolbertWorker.serve``)."""

from __future__ import annotations

import weakref
from functools import partial

import torch
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.queue import RedisJobs
from core.keys import result_stream
from core.protocol import GenerateJob, ResultEvent, job_id_for
from handlers.texts import EN, RU
from tests import factories
from tests.factories import work_until_empty
from workers import runtime
from workers.worker import MolbertWorker

chat = partial(factories.chat, chat_id=100)


async def submit(jobs: RedisJobs, message_id: int, prompt: str) -> str:
    job_id = job_id_for(chat(message_id), "imagine")
    assert await jobs.submit_generate(job_id, GenerateJob(chat=chat(message_id), prompt=prompt, seed=1)) is not None
    return job_id


def results(redis_conn) -> dict[str, ResultEvent]:
    events = (ResultEvent.model_validate_json(f[b"event"]) for _id, f in redis_conn.xrange(result_stream("telegram")))
    return {event.job_id: event for event in events if event.kind != "progress"}


async def test_a_job_out_of_memory_is_refused_once_and_the_worker_keeps_serving(redis_conn, tiny_models, monkeypatch):
    from workers import jobs as job_functions

    generate, free = tiny_models.generator.generate, job_functions._free_accelerator_memory
    calls, held_when_freed, failed_runs_tensor = [], [], []

    def generate_or_run_out(prompt, **options):
        calls.append(prompt)
        if "огромная" in prompt:
            activations = torch.empty(1_000_000)  # what the failed run held, in its frame
            failed_runs_tensor.append(weakref.ref(activations))
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return generate(prompt, **options)

    def free_and_look():
        free()
        held_when_freed.append(failed_runs_tensor[0]() is not None)

    monkeypatch.setattr(tiny_models.generator, "generate", generate_or_run_out)
    monkeypatch.setattr(job_functions, "_free_accelerator_memory", free_and_look)
    jobs = RedisJobs(redis_conn)
    too_big = await submit(jobs, 1, "огромная фреска")
    fine = await submit(jobs, 2, "кот в космосе")
    work_until_empty(tiny_models, redis_conn)
    events = results(redis_conn)
    assert (events[too_big].ok, events[too_big].error_key) == (False, "out_of_memory")
    assert "out_of_memory" in RU and "out_of_memory" in EN
    assert events[fine].ok and events[fine].image_keys
    assert sum("огромная" in prompt for prompt in calls) == 1  # no RQ retry of the same request
    assert held_when_freed == [False], "the failed run's memory is unreachable when it is given back"
    job = Job.fetch(too_big, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == "finished"


def test_a_worker_whose_work_loop_quit_on_an_error_serves_again(redis_conn, tiny_models, monkeypatch):
    worker = MolbertWorker(tiny_models, redis_conn, name="comeback")
    runs = []

    def work(**_options):
        runs.append(1)
        if len(runs) == 2:  # second run: stopped by a signal
            worker.handle_warm_shutdown_request()
        return False  # first run: RQ logged an error and returned, as after a lost Redis

    monkeypatch.setattr(worker, "work", work)
    try:
        worker.serve()
    finally:
        runtime.set_models(None)
    assert len(runs) == 2
