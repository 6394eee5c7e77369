"""The Molbert worker: an RQ worker that loads its models once and runs every job in its own process."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

import redis
from rq import Queue, worker_registration
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.job_lifecycle import call_exception_handlers
from rq.registry import clean_registries
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from core.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE
from workers import runtime

if TYPE_CHECKING:
    from models.presets import LoadedModels
    from workers.safety import ImageSafety

log = logging.getLogger(__name__)

# Photos take a fraction of a second, pictures take many: a waiting photo goes first.
DEFAULT_QUEUES = (CLASSIFY_QUEUE, GENERATE_QUEUE)

# Abandoned jobs (docs/reliability.md). While a job runs, a thread renews its heartbeat every HEARTBEAT_INTERVAL s;
# a job not renewed for ABANDONED_AFTER s is abandoned (its worker died). Idle workers run RQ's registry cleanup
# (which re-queues an abandoned job that has retries left, else fails it) every MAINTENANCE_INTERVAL s, waking
# from the queues every WORKER_TTL - 15 s to check. So a killed worker's job runs again about
# ABANDONED_AFTER + MAINTENANCE_INTERVAL (at most ABANDONED_AFTER + 2 * MAINTENANCE_INTERVAL) s after the kill,
# when some worker is idle. RQ's defaults would take up to timeout + 60 s + 10 min.
HEARTBEAT_INTERVAL = 5
ABANDONED_AFTER = 20
MAINTENANCE_INTERVAL = 10
WORKER_TTL = 25
COMMAND_POLL_SECONDS = 1.0  # how often the command-channel thread looks up from its read (and sees a stop)
# A queue's cleaning lock; RQ holds it 899 s and leaves it when a pass is cut off (a Redis error, a killed worker),
# which would stall the recovery of that queue's abandoned jobs for 15 minutes. A pass takes milliseconds.
MAINTENANCE_LOCK_SECONDS = 2 * MAINTENANCE_INTERVAL
UNSUBSCRIBE_WAIT = 3 * COMMAND_POLL_SECONDS  # a stopping worker's wait for that thread to leave its read
RECONNECT_DELAYS = (1.0, 30.0)  # waiting for Redis: the first pause, doubling up to the second


class MolbertWorker(SimpleWorker):
    """Runs jobs in-process with warm models.

    RQ's default worker forks a child per job; a forked child cannot re-initialise CUDA and would have to load
    the models again, so this worker executes jobs in its own process, where the models already are.
    """

    _running_until: float | None = None  # while a job runs: when it counts as stuck (``is_stuck``)

    def __init__(
        self,
        models: LoadedModels,
        connection: redis.Redis,
        queues: tuple[str, ...] | list[str] = DEFAULT_QUEUES,
        name: str | None = None,
        safety: ImageSafety | None = None,
    ) -> None:
        # log_job_description=False: job arguments hold prompts and chat ids, which do not belong in logs
        super().__init__(
            list(queues),
            connection=connection,
            serializer=JSONSerializer,
            name=name,
            log_job_description=False,
            worker_ttl=WORKER_TTL,
            maintenance_interval=MAINTENANCE_INTERVAL,
        )
        self.models = models
        runtime.set_models(models, safety)

    def subscribe(self) -> None:
        """RQ's command channel (``rq`` shutdown / stop-job commands), read by a thread that wakes every
        :data:`COMMAND_POLL_SECONDS`. RQ's thread waits 60 s per read, and redis-py's ``stop()`` joins it: a worker
        told to stop could sit in its teardown for a minute, past a container's grace period, and get killed."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # rq declares it as None only
            sleep_time=COMMAND_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def unsubscribe(self) -> None:
        """RQ's, without its race: RQ waits 1 s for the command-channel thread and then closes the pub/sub itself,
        while a thread still in its read (a busy machine) closes it too on its way out, and redis-py's
        ``PubSub.reset`` is not safe from two threads (an ``AttributeError`` from the worker's teardown). Here the
        thread alone closes it; a thread that outlives the wait is a daemon and closes it when its read ends."""
        if self.pubsub_thread is None or self.pubsub is None:
            return
        self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
        self.pubsub.unsubscribe()
        self.pubsub_thread.stop()  # redis-py ≥ 7 joins the thread here; older ones only clear its flag
        self.pubsub_thread.join(timeout=UNSUBSCRIBE_WAIT)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        """RQ's, with the user's words kept out of the log: RQ attaches the job's arguments to the record (our log
        formats print a record's extras) and logs the exception's message, which can repeat them (pydantic's shows
        the payload it could not read). Logged here: the job, the exception's type and where it was raised; the
        job itself logs its reason and error reference (``workers.jobs``)."""
        exc_type, _exc, tb = exc_info
        frames = "".join(traceback.format_tb(tb))
        try:
            func_name = job.func_name
        except DeserializationError:  # as RQ guards it: a payload that cannot be read names no function
            func_name = "<DeserializationError>"
        self.log.error(
            "Worker %s: job %s: %s raised while executing (%s)\nTraceback (most recent call last):\n%s",
            self.name,
            job.id,
            getattr(exc_type, "__name__", exc_type),
            func_name,
            frames,
            extra={"queue": job.origin, "job_id": job.id},
        )
        call_exception_handlers(self._exc_handlers, job, *exc_info)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """SimpleWorker's, with the job's heartbeat renewed from a thread while it runs in this one."""
        execution = self.prepare_execution(job)
        timeout = job.timeout or Queue.DEFAULT_TIMEOUT
        self._running_until = time.monotonic() + timeout + ABANDONED_AFTER if timeout > 0 else float("inf")
        try:
            with JobHeartbeat(self, job, execution):
                self.perform_job(job, queue, execution)
        finally:
            self._running_until = None
        self.set_state(WorkerStatus.IDLE)

    def is_stuck(self) -> bool:
        """A job has outrun its timeout by ``ABANDONED_AFTER`` s (RQ's timeout could not stop it): the health check
        fails, so an orchestrator restarts the worker (its job then runs again elsewhere, as abandoned)."""
        until = getattr(self, "_running_until", None)
        return until is not None and time.monotonic() > until

    def handle_warm_shutdown_request(self) -> None:
        self.stopping = True
        super().handle_warm_shutdown_request()

    def serve(self, logging_level: str = "INFO") -> None:
        """``work()`` until stopped by a signal, coming back after Redis went away.

        RQ's dequeue loop waits out a lost Redis by itself (with back-off), but a Redis error anywhere else (after
        a job, in the suspension check, while recording a result) makes ``work()`` log it and return. Then this
        waits for Redis with back-off (1 s doubling to 30 s, logged), marks the old registration dead and works
        again; a job cut off that way is re-run as abandoned (docs/reliability.md).
        """
        self.stopping = False
        delay = RECONNECT_DELAYS[0]
        while True:
            started = time.monotonic()
            try:
                self.work(logging_level=logging_level)
            except redis.RedisError as exc:  # teardown itself failed: Redis still away
                log.error("worker %s lost Redis: %s", self.name, exc)
            if self.stopping:
                return
            if time.monotonic() - started > 60:
                delay = RECONNECT_DELAYS[0]
            with contextlib.suppress(Exception):
                self.unsubscribe()
            while True:
                log.warning("worker %s stopped on an error; reconnecting to Redis in %.0f s", self.name, delay)
                time.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAYS[1])
                try:
                    self.connection.ping()
                    self.register_death()  # else a restart under the same name is refused as a duplicate
                    break
                except redis.RedisError as exc:
                    log.warning("worker %s: Redis still unreachable (%s)", self.name, exc)
            log.info("worker %s reconnected to Redis; serving again", self.name)

    def clean_registries(self) -> None:
        """RQ's registry cleaning (re-queues abandoned jobs, see above), one worker per queue at a time, with the
        queue's lock held ``MAINTENANCE_LOCK_SECONDS`` at most and released even when the pass is cut off."""
        for queue in self.queues:
            if not self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=MAINTENANCE_LOCK_SECONDS):
                continue
            try:
                self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
            finally:
                with contextlib.suppress(redis.RedisError):  # Redis away: the lock expires soon by itself
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()  # type: ignore[assignment]  # rq leaves it unannotated, set to None first

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long a running job may go without a heartbeat before it counts as abandoned (RQ: its timeout)."""
        return ABANDONED_AFTER


class JobHeartbeat:
    """Renews a running job's heartbeat (worker key, execution, StartedJobRegistry entry) every few seconds.

    RQ renews it only from a forking worker's monitoring loop; SimpleWorker runs the job in its main thread, so
    this thread does it. It stops renewing once the job has outrun its timeout by ABANDONED_AFTER s (stuck where
    RQ's timeout signal cannot reach it), so that such a job too is eventually given to another worker.
    """

    def __init__(self, worker: SimpleWorker, job: Job, execution) -> None:
        self.worker, self.job, self.execution = worker, job, execution
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {job.id}", daemon=True)

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        timeout = self.job.timeout or Queue.DEFAULT_TIMEOUT
        give_up = time.monotonic() + timeout + ABANDONED_AFTER if timeout > 0 else float("inf")
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            if time.monotonic() > give_up:
                log.error("job %s outran its %s s timeout; no longer renewing its heartbeat", self.job.id, timeout)
                return
            try:
                self.worker.maintain_heartbeats(self.job, self.execution)
            except redis.RedisError as exc:  # Redis away for a moment: the next beat may get through
                log.warning("heartbeat of job %s failed: %s", self.job.id, exc)


def wait_for_redis(connection: redis.Redis) -> None:
    """Return once Redis answers (a PING); until then try again with back-off, logged. A worker starting while
    Redis is away (or still loading its data) waits here with its models loaded, instead of exiting and having
    to load them all again when it is restarted."""
    delay = RECONNECT_DELAYS[0]
    while True:
        try:
            connection.ping()
            return
        except redis.RedisError as exc:
            log.warning("Redis does not answer (%s); trying again in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, RECONNECT_DELAYS[1])


def parse_queues(value: str) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; empty → the default order (classification first)."""
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    return names or DEFAULT_QUEUES
