"""The frontend's side of the job queue: RQ with JSON payloads, enqueued by dotted path.

RQ and redis-py are synchronous; each call is short, so it runs in a thread to keep the event loop free
(``bot.redis_calls.in_thread``, which also turns a Redis error into ``QueueUnavailable``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import cast

import redis
from pydantic import ValidationError
from rq import Callback, Queue, Retry, Worker
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.monitoring import JOBS_ENQUEUED
from bot.redis_calls import in_thread
from core.keys import (
    active_key,
    cancel_key,
    described_key,
    durations_key,
    image_key,
    jobs_today_key,
    message_job_key,
    outpaint_key,
    params_key,
    photo_key,
    ranker_key,
    result_stream,
    status_message_key,
)
from core.protocol import (
    CLASSIFY_FUNC,
    CLASSIFY_QUEUE,
    DESCRIBE_FUNC,
    FAILURE_CALLBACK,
    GENERATE_FUNC,
    RANK_FUNC,
    TEACH_FUNC,
    ChatRef,
    ClassifyJob,
    DescribeJob,
    GenerateJob,
    RankerStatus,
    RankJob,
    ResultEvent,
    StageTimes,
    StoredDescription,
    TeachJob,
    job_kind,
)
from handlers.ports import MessageId, Queued, QueuedJob, Stats
from handlers.routing import GeneratorRoutes
from handlers.telemetry import received_at

DELIVERED = "delivered"
STATUS_GONE = "gone"  # the "queued" message can no longer be edited: the result is sent as a new message


@dataclass(frozen=True)
class JobPolicy:
    """How long a kind of job may run, how often it is retried and how long its traces stay in Redis."""

    timeout: int
    retries: int = 2
    result_ttl: int = 24 * 3600  # keeps the job id taken, so a late re-delivered update is still a duplicate
    failure_ttl: int = 7 * 24 * 3600


GENERATE_POLICY = JobPolicy(timeout=600)
CLASSIFY_POLICY = JobPolicy(timeout=120)
# ⤴ and --up: a 1024² picture ×4 on a CPU worker takes many minutes (docs/benchmarks.md); a GPU takes seconds
UPSCALE_POLICY = JobPolicy(timeout=3600)
INPUT_TTL = 3600
STATUS_TTL = 24 * 3600
PARAMS_TTL = 30 * 24 * 3600  # small; lets V and 🔄 work long after the images (24 h) are gone


class RedisJobs:
    """Implements :class:`handlers.ports.JobSubmitter` on RQ queues in one Redis."""

    def __init__(self, connection: redis.Redis, routes: GeneratorRoutes | None = None) -> None:
        self.connection = connection
        self.routes = routes or GeneratorRoutes()
        self.generate_queues = {
            name: Queue(name, connection=connection, serializer=JSONSerializer) for name in self.routes.all_queues
        }
        self.classify_queue = Queue(CLASSIFY_QUEUE, connection=connection, serializer=JSONSerializer)

    @property
    def queues(self) -> list[Queue]:
        """Every queue jobs wait in: one per generator class, and the classification queue."""
        return [*self.generate_queues.values(), self.classify_queue]

    async def submit_generate(self, job_id: str, job: GenerateJob, photo: bytes | None = None) -> Queued | None:
        """Enqueue a generation job, keeping its request for the result's buttons; ``None`` if the id exists.

        ``photo``, for a picture painted from it, waits under ``job.photo_key`` for ``INPUT_TTL`` (the worker then
        keeps it as long as the pictures, for 🔄, or deletes it when the job ends without any).
        """
        return await in_thread(self._store_and_enqueue_generate, job_id, job, photo)

    async def load_generation(self, job_id: str) -> GenerateJob | None:
        """The request of an earlier generation, or ``None`` once expired (or never made)."""
        data = await in_thread(self.connection.get, params_key(job_id))
        return None if data is None else GenerateJob.model_validate_json(data)

    async def remember_message_job(self, chat: ChatRef, message_id: MessageId, job_id: str) -> None:
        """Remember the generation a message stands for (a 🖋 prompt) for as long as its request is kept."""
        await in_thread(self.connection.set, message_job_key(chat, message_id), job_id, ex=PARAMS_TTL)

    async def message_job(self, chat: ChatRef, message_id: MessageId) -> str | None:
        """The generation a message stands for, or ``None`` (none, or forgotten)."""
        data = await in_thread(self.connection.get, message_job_key(chat, message_id))
        return data.decode() if isinstance(data, bytes) else data if isinstance(data, str) else None

    async def load_image(self, job_id: str, index: int) -> bytes | None:
        """The ``index``-th image of a finished generation, or ``None`` once expired."""
        return cast("bytes | None", await in_thread(self.connection.get, image_key(job_id, index)))  # not decoded

    async def can_outpaint(self, job_id: str) -> bool:
        """Whether the worker that painted ``job_id`` said its generator can zoom out and pan the images."""
        return bool(await in_thread(self.connection.exists, outpaint_key(job_id)))

    async def submit_classify(self, job_id: str, job: ClassifyJob, image: bytes) -> Queued | None:
        """Store the photo, then enqueue a classification job; ``None`` if the job id exists."""
        return await in_thread(self._store_and_enqueue_classify, job_id, job, image)

    async def submit_rank(self, job_id: str, job: RankJob, images: list[bytes]) -> Queued | None:
        """Store the photos, then enqueue a ranking job (on the classification queue); ``None`` if the id exists."""
        return await in_thread(self._store_and_enqueue_rank, job_id, job, images)

    # /describe (#21)
    async def submit_describe(self, job_id: str, job: DescribeJob, image: bytes) -> Queued | None:
        """Store the photo, then enqueue a ``/describe`` job (on the classification queue); ``None`` if the id
        exists."""
        return await in_thread(self._store_and_enqueue_describe, job_id, job, image)

    async def load_description(self, job_id: str) -> StoredDescription | None:
        """What a ``/describe`` job said, kept by the worker for its buttons; ``None`` once expired."""
        data = await in_thread(self.connection.get, described_key(job_id))
        return None if data is None else StoredDescription.model_validate_json(data)

    def _store_and_enqueue_describe(self, job_id: str, job: DescribeJob, image: bytes) -> Queued | None:
        self.connection.set(job.image_key, image, ex=INPUT_TTL)
        payload = job.model_dump(mode="json")
        return self._enqueue(self.classify_queue, DESCRIBE_FUNC, job_id, payload, CLASSIFY_POLICY)

    async def submit_teach(self, job_id: str, job: TeachJob, images: list[bytes]) -> Queued | None:
        """Store the photos, then enqueue a teaching job (on the classification queue); ``None`` if the id exists."""
        return await in_thread(self._store_and_enqueue_teach, job_id, job, images)

    async def user_jobs(self, chat: ChatRef) -> list[QueuedJob]:
        """The user's jobs in this chat that are still waiting or running, from the fair-use slots."""
        return await in_thread(self._user_jobs, chat)

    async def job_owner(self, job_id: str) -> ChatRef | None:
        """The chat of the job's request while RQ keeps the job (finished ones for a day), else ``None``."""
        return await in_thread(self._job_owner, job_id)

    def _job_owner(self, job_id: str) -> ChatRef | None:
        try:
            job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return None
        return ChatRef.model_validate(job.args[0]["chat"])

    async def cancel(self, chat: ChatRef, job_id: str) -> bool:
        """Cancel a waiting job (its status message says so) or flag a running one to stop at its next step."""
        return await in_thread(self._cancel, chat, job_id)

    def _user_jobs(self, chat: ChatRef) -> list[QueuedJob]:
        active = cast("list[bytes]", self.connection.zrange(active_key(chat.platform, chat.user_id), 0, -1))
        ids = [i.decode() for i in active]
        jobs = Job.fetch_many(ids, connection=self.connection, serializer=JSONSerializer)
        found = []
        for job in jobs:
            if job is None or str(job.args[0]["chat"]["chat_id"]) != str(chat.chat_id):
                continue
            status = job.get_status(refresh=False)
            if status not in (JobStatus.QUEUED, JobStatus.STARTED):
                continue
            queue = Queue(job.origin, connection=self.connection, serializer=JSONSerializer)
            position = queue.get_job_position(job.id) if status == JobStatus.QUEUED else None
            kind = "imagine" if job.func_name == GENERATE_FUNC else "classify"
            summary = job.args[0].get("prompt") or ""
            found.append(QueuedJob(job.id, kind, summary, None if position is None else position + 1, job.origin))
        return found

    def _cancel(self, chat: ChatRef, job_id: str) -> bool:
        job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        status = job.get_status()
        if status == JobStatus.STARTED:
            if job.func_name != GENERATE_FUNC:  # only painting checks for a stop; a running photo is nearly done
                return False
            self.connection.set(cancel_key(job_id), "1", ex=UPSCALE_POLICY.timeout)  # the longest a painting runs
            return True
        if status != JobStatus.QUEUED:
            return False
        job.cancel()
        payload = job.args[0]
        kind = job_kind(job.func_name)  # a ranking waits on the photo queue too
        event = ResultEvent(job_id=job_id, kind=kind, chat=payload["chat"], ok=False, error_key="cancelled")
        with self.connection.pipeline() as pipe:
            if payload.get("photo_key") == photo_key(job_id):  # the photo it would have painted from
                pipe.delete(photo_key(job_id))
            pipe.zrem(active_key(event.chat.platform, event.chat.user_id), job_id)  # the owner's slot
            pipe.xadd(result_stream(event.chat.platform), {"event": event.model_dump_json()})
            pipe.execute()
        return True

    async def stats(self) -> Stats:
        """Operator figures from Redis: today's job counter, RQ's queues, registries and workers."""
        return await in_thread(self._stats)

    def _stats(self) -> Stats:
        queues = (*self.generate_queues.values(), self.classify_queue)
        typical = {}
        for queue in queues:
            typical[queue.name] = _median(self.connection.lrange(durations_key(queue.name), 0, -1))
        return Stats(
            jobs_today=int(self.connection.get(jobs_today_key()) or 0),
            waiting={queue.name: queue.count for queue in queues},
            running=sum(queue.started_job_registry.count for queue in queues),
            workers=Worker.count(connection=self.connection),
            typical_seconds=typical,
            ranker=_ranker_status(self.connection.get(ranker_key())),
        )

    async def typical_seconds(self, queue: str) -> float | None:
        """The median of the recent job durations workers recorded for ``queue``."""
        return _median(await in_thread(self.connection.lrange, durations_key(queue), 0, -1))

    async def remember_status_message(self, job_id: str, message_id: MessageId) -> bool:
        """Remember the "queued" message; ``False`` if the result was delivered first."""
        previous = await in_thread(self._swap_status, job_id, str(message_id))
        return previous != DELIVERED

    def _store_and_enqueue_generate(self, job_id: str, job: GenerateJob, photo: bytes | None = None) -> Queued | None:
        if photo is not None and job.photo_key is not None:
            self.connection.set(job.photo_key, photo, ex=INPUT_TTL)
        queue = self.generate_queues[self.routes.queue_for(job.generator)]
        keep = {params_key(job_id): job.model_dump_json()}
        policy = UPSCALE_POLICY if job.upscale else GENERATE_POLICY
        return self._enqueue(queue, GENERATE_FUNC, job_id, job.model_dump(mode="json"), policy, keep)

    def _store_and_enqueue_classify(self, job_id: str, job: ClassifyJob, image: bytes) -> Queued | None:
        self.connection.set(job.image_key, image, ex=INPUT_TTL)
        payload = job.model_dump(mode="json")
        return self._enqueue(self.classify_queue, CLASSIFY_FUNC, job_id, payload, CLASSIFY_POLICY)

    def _store_and_enqueue_rank(self, job_id: str, job: RankJob, images: list[bytes]) -> Queued | None:
        with self.connection.pipeline() as pipe:
            for key, image in zip(job.image_keys, images, strict=True):
                pipe.set(key, image, ex=INPUT_TTL)
            pipe.execute()
        payload = job.model_dump(mode="json")
        return self._enqueue(self.classify_queue, RANK_FUNC, job_id, payload, CLASSIFY_POLICY)

    def _store_and_enqueue_teach(self, job_id: str, job: TeachJob, images: list[bytes]) -> Queued | None:
        with self.connection.pipeline() as pipe:
            for key, image in zip(job.image_keys, images, strict=True):
                pipe.set(key, image, ex=INPUT_TTL)
            pipe.execute()
        payload = job.model_dump(mode="json")
        return self._enqueue(self.classify_queue, TEACH_FUNC, job_id, payload, CLASSIFY_POLICY)

    def _enqueue(
        self, queue: Queue, func: str, job_id: str, payload: dict, policy: JobPolicy, keep: dict[str, str] | None = None
    ) -> Queued | None:
        """Enqueue unless ``job_id`` exists, then store ``keep`` (key → value, for ``PARAMS_TTL``), count the job
        and read the queue's length and recent job times — all after the enqueue in one round trip."""
        payload["times"] = StageTimes(received=received_at(), enqueued=time.time()).model_dump()
        try:
            with self.connection.pipeline() as pipe:
                # a unique job is saved and pushed at once by RQ's Lua script (a duplicate raises before anything
                # else is sent); RQ queues the rest of its work (registering the queue's name) on ``pipe``
                queue.enqueue_call(
                    func,
                    args=(payload,),
                    job_id=job_id,
                    unique=True,
                    timeout=policy.timeout,
                    result_ttl=policy.result_ttl,
                    failure_ttl=policy.failure_ttl,
                    retry=Retry(max=policy.retries),
                    on_failure=Callback(FAILURE_CALLBACK),
                    pipeline=pipe,
                )
                for key, value in (keep or {}).items():
                    pipe.set(key, value, ex=PARAMS_TTL)
                pipe.incr(jobs_today_key())
                pipe.expire(jobs_today_key(), 2 * 24 * 3600)
                pipe.llen(queue.key)
                pipe.lrange(durations_key(queue.name), 0, -1)
                *_, waiting, durations = pipe.execute()
        except DuplicateJobError:
            return None
        JOBS_ENQUEUED.labels(job_kind(func)).inc()
        return Queued(position=waiting, typical_seconds=_median(durations))

    def _swap_status(self, job_id: str, value: str) -> str | None:
        previous = self.connection.set(status_message_key(job_id), value, ex=STATUS_TTL, get=True)
        return previous.decode() if isinstance(previous, bytes) else previous if isinstance(previous, str) else None


def _median(durations: list[bytes] | list[bytes | str]) -> float | None:
    """The median of the job times a worker recorded (seconds, as text), or ``None`` if there are none yet."""
    return statistics.median(float(value) for value in durations) if durations else None


def status_message_id(previous: bytes | str | None) -> str | None:
    """Interpret the value a status key held before it was marked delivered: a message id, or ``None``."""
    if isinstance(previous, bytes):
        previous = previous.decode()
    return None if previous in (None, DELIVERED, STATUS_GONE) else previous


def _ranker_status(value: bytes | str | None) -> RankerStatus | None:
    """What the workers rank with, as the last one to load a ranker published it; ``None`` when none did (or an
    older worker wrote something this frontend cannot read: ``/stats`` goes on without the line)."""
    if value is None:
        return None
    try:
        return RankerStatus.model_validate_json(value)
    except ValidationError:
        return None
