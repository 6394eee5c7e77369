"""The chaos run: the whole system on loopback under simulated users while a seeded schedule breaks it.

A redis-server with AOF (``appendfsync everysec``), two ``python -m workers`` on the tiny preset, ``python -m bot``
and the fake Bot API. Users send ``/imagine …`` and photos to classify; meanwhile a worker is SIGKILLed (and
restarted), the bot is SIGKILLed (and restarted) and Redis is stopped and started again, at seeded random moments.
After a drain with no faults every request is judged by what its chat got, as a reply to it:

- *accepted*: the "queued" status (or, when the bot died between queueing and saying so, a result);
- *refused*: a limit's text or "queue unavailable";
- a *result*: a picture, the labels, or one failure text.

The invariant: every accepted request got exactly one result — none lost, none twice — and every request was
answered. ``bench/chaos.py`` runs it for minutes and reports; ``test_chaos.py`` runs a short one in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import re
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.config import LimitSettings
from core.keys import delivered_key
from core.protocol import CLASSIFY_QUEUE, GENERATE_QUEUE, ChatRef, job_id_for
from handlers.texts import RU
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.images import png
from tests.processes import REPO, ManagedProcess
from tests.reliability.conftest import RedisServer, Stack, kill, running_job

AOF = ("--appendonly", "yes", "--appendfsync", "everysec")
FAULT_KINDS = ("worker", "bot", "redis")
STATUS_KEYS = {"queued", "queued_next", "progress"}
REFUSAL_KEYS = {"limit_concurrent", "limit_rate", "limit_daily", "limit_chat", "queue_full", "queue_unavailable"}
LABEL_KEYS = {"classify_header", "classify_header_labels", "classify_uncertain", "classify_yes", "classify_no"}
SUBJECTS = ("маяк на скале", "кот в сапогах", "дом у реки", "лиса в лесу", "город ночью", "корабль в бурю")
LABELS = "кошка, собака, медведь"
# What the bot's log says when it drops a repeat (bot/results.py, handlers/service.py).
SUPPRESSED = {
    "repeated_results": "was delivered before; acknowledging the repeat",
    "repeated_updates": "exists already: a re-delivered event",
    "uncertain_sends": "may not have reached its chat",
}


@dataclass
class Config:
    """What to run: how long, how many users, how often faults come, and how long to wait for stragglers."""

    minutes: float = 10.0
    users: int = 20
    seed: int = 1
    think_seconds: float = 30.0  # each user's mean pause between requests (exponential)
    photo_share: float = 0.25
    fault_every: float = 45.0  # one fault per this many seconds on average, the kinds taking turns
    warm_up: float = 15.0  # seconds of traffic before the first fault
    drain_timeout: float = 240.0  # after the faults: how long accepted requests may take to get their results
    settle: float = 5.0  # after the last result: a repeat would come now
    restart_delay: tuple[float, float] = (1.0, 3.0)  # a supervisor's RestartSec, drawn per restart
    redis_down: tuple[float, float] = (2.0, 8.0)
    limits: dict[str, str] = field(default_factory=lambda: production_limits())


def production_limits() -> dict[str, str]:
    """The bot's default fair-use limits as ``LIMIT_*`` variables (the test processes start with them off)."""
    return {f"LIMIT_{name.upper()}": str(info.default) for name, info in LimitSettings.model_fields.items()}


@dataclass
class Fault:
    """One planned fault; ``happened``/``back`` (monotonic) are filled when it runs."""

    kind: str
    at: float  # seconds after the traffic started
    worker: int = 0  # which of the two worker slots (kind "worker")
    down_for: float = 0.0  # seconds stopped (kind "redis") or dead before the restart (kinds "worker", "bot")
    happened: float | None = None
    back: float | None = None
    orphans: list[str] = field(default_factory=list)  # job ids a killed worker was running


def plan_faults(config: Config, rng: random.Random) -> list[Fault]:
    """Faults at random moments of equal slots after the warm-up, each kind in turn (in a shuffled order per
    round), so a run has every kind once its length allows three faults."""
    duration = config.minutes * 60
    slots = max(3, int((duration - config.warm_up) // config.fault_every))
    slot = (duration - config.warm_up) / slots
    faults = []
    for index in range(slots):
        if index % 3 == 0:
            order = rng.sample(FAULT_KINDS, 3)
        kind = order[index % 3]
        at = config.warm_up + slot * (index + rng.uniform(0.15, 0.75))
        down_for = rng.uniform(*(config.redis_down if kind == "redis" else config.restart_delay))
        faults.append(Fault(kind, round(at, 1), worker=rng.randrange(2), down_for=round(down_for, 1)))
    return faults


@dataclass
class Request:
    """One thing a user asked, and when (monotonic) its chat first showed it accepted and its result."""

    user_id: int
    message_id: int
    kind: str  # "imagine" or "photo"
    sent: float
    accepted_at: float | None = None
    result_at: float | None = None

    @property
    def job_id(self) -> str:
        chat = ChatRef(platform="telegram", chat_id=self.user_id, user_id=self.user_id, message_id=self.message_id)
        return job_id_for(chat, "imagine" if self.kind == "imagine" else "classify")


def _text_prefixes() -> list[tuple[str, str]]:
    """(prefix, key) for every Russian text: the part before its first placeholder, longest first."""
    prefixes = [(text.split("{", 1)[0], key) for key, text in RU.items()]
    return sorted(((p, k) for p, k in prefixes if len(p) >= 6), key=lambda item: -len(item[0]))


PREFIXES = _text_prefixes()


def text_key(text: str) -> str | None:
    """Which of handlers/texts.py's texts ``text`` is (by its fixed beginning), if any."""
    return next((key for prefix, key in PREFIXES if text.startswith(prefix)), None)


@dataclass
class Outcome:
    """What one request's chat got in reply to it."""

    accepted: bool = False
    status: bool = False  # the "queued" message came (it does not when the bot died between queueing and saying so)
    refusal: str | None = None
    results: list[str] = field(default_factory=list)  # "picture", "labels", or "failed:<text key>"


def judge(replies: list[SentMessage]) -> Outcome:
    """Sort the bot's replies to one request into status, refusal and results."""
    outcome = Outcome()
    for message in replies:
        if message.photo is not None:
            outcome.results.append("picture")
            continue
        first = text_key(message.history[0]) if message.history else None
        now = text_key(message.content)
        if first in REFUSAL_KEYS:
            outcome.refusal = first
        if first in STATUS_KEYS:
            outcome.accepted = outcome.status = True
        if now in LABEL_KEYS:
            outcome.results.append("labels")
        elif now not in STATUS_KEYS | REFUSAL_KEYS and not (message.deleted and first in STATUS_KEYS):
            outcome.results.append(f"failed:{now or message.content[:40]}")
    if outcome.results:
        outcome.accepted = True
    return outcome


class Users:
    """Simulated users in private chats: each sends a request now and then, never waiting for the last one."""

    def __init__(self, telegram: FakeTelegramAPI, config: Config, rng: random.Random) -> None:
        self.telegram = telegram
        self.config = config
        self.rng = rng
        self.requests: list[Request] = []
        self.started = time.monotonic()
        self.people = [telegram.user(300_000 + n, f"Гость {n}") for n in range(config.users)]
        self.photo = png(96, 96, (180, 40, 40))

    async def run(self, until: float) -> None:
        """Every user acts until the monotonic time ``until``."""
        self.started = time.monotonic()
        await asyncio.gather(*(self._act(person, random.Random(self.rng.random()), until) for person in self.people))

    async def _act(self, person: dict, rng: random.Random, until: float) -> None:
        pause = rng.uniform(0, self.config.think_seconds)
        while (left := until - time.monotonic()) > pause:
            await asyncio.sleep(pause)
            self.send(person, rng)
            pause = rng.expovariate(1 / self.config.think_seconds)
        await asyncio.sleep(max(0.0, left))

    def send(self, person: dict, rng: random.Random) -> Request:
        """One request: mostly ``/imagine``, sometimes a photo (half of them captioned with labels)."""
        user_id = person["id"]
        if rng.random() < self.config.photo_share:
            caption = LABELS if rng.random() < 0.5 else None
            message = self.telegram.send_photo(user_id, person, self.photo, caption=caption)
            kind = "photo"
        else:
            message = self.telegram.send_text(user_id, person, f"/imagine {rng.choice(SUBJECTS)} {len(self.requests)}")
            kind = "imagine"
        request = Request(user_id, message["message_id"], kind, time.monotonic())
        self.requests.append(request)
        return request

    def outcomes(self) -> dict[int, Outcome]:
        """Each request's outcome by its position in :attr:`requests`."""
        by_reply: dict[tuple[int, int], list[SentMessage]] = {}
        for message in self.telegram.messages():
            by_reply.setdefault((message.chat_id, message.reply_to_message_id), []).append(message)
        return {
            index: judge(by_reply.get((request.user_id, request.message_id), []))
            for index, request in enumerate(self.requests)
        }

    async def watch(self, stop: asyncio.Event, every: float = 0.25) -> None:
        """Note when each request was first seen accepted and first seen with a result (for recovery times)."""
        while not stop.is_set():
            now = time.monotonic()
            for index, outcome in self.outcomes().items():
                request = self.requests[index]
                if outcome.accepted and request.accepted_at is None:
                    request.accepted_at = now
                if outcome.results and request.result_at is None:
                    request.result_at = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    def open_requests(self) -> list[Request]:
        """Accepted requests still without a result, and requests with no answer at all yet."""
        outcomes = self.outcomes()
        return [r for i, r in enumerate(self.requests) if outcomes[i].refusal is None and not outcomes[i].results]


class System:
    """The processes under test; faults kill and restart them."""

    def __init__(self, workdir: Path, model_cache_dir: Path, telegram: FakeTelegramAPI, config: Config) -> None:
        self.workdir = workdir
        self.telegram = telegram
        self.config = config
        self.redis = RedisServer(workdir / "redis", *AOF)
        self.stack = Stack(self.redis.url(), model_cache_dir, workdir)
        self.workers: list[ManagedProcess] = []
        self.generations = Counter()
        self.bot: ManagedProcess | None = None

    async def start(self) -> None:
        """Redis, two workers (both ready) and the bot (its commands registered)."""
        await asyncio.to_thread(self.redis.start)
        self.workers = [self._worker(slot) for slot in range(2)]
        for worker in self.workers:
            await worker.wait_for_log("ready: preset tiny", timeout=300)
        self.bot = self.stack.bot(self.telegram, **self.config.limits)
        await self.telegram.wait_for_call("setMyCommands", timeout=120)

    def _worker(self, slot: int) -> ManagedProcess:
        self.generations[slot] += 1
        return self.stack.worker(f"worker-{slot}-{self.generations[slot]}")

    def client(self) -> redis.Redis:
        """A short-lived client of the Redis under test (for diagnostics; it may be down)."""
        return redis.Redis.from_url(self.redis.url(), socket_timeout=5)

    async def inflict(self, fault: Fault) -> None:
        """Do ``fault`` and bring the broken part back; sets ``happened`` and ``back``."""
        if fault.kind == "worker":
            worker = self.workers[fault.worker]
            fault.orphans = await asyncio.to_thread(self._running_jobs, worker)
            fault.happened = kill(worker)
            await asyncio.sleep(fault.down_for)
            self.workers[fault.worker] = self._worker(fault.worker)
        elif fault.kind == "bot":
            fault.happened = kill(self.bot)
            await asyncio.sleep(fault.down_for)
            self.bot = self.stack.bot(self.telegram, **self.config.limits)
        else:
            fault.happened = time.monotonic()
            await asyncio.to_thread(self.redis.stop)
            await asyncio.sleep(fault.down_for)
            await asyncio.to_thread(self.redis.start)
        fault.back = time.monotonic()

    def _running_jobs(self, worker: ManagedProcess) -> list[str]:
        name = self._name(worker)
        try:
            with contextlib.closing(self.client()) as connection:
                found = (running_job(connection, queue, name) for queue in (GENERATE_QUEUE, CLASSIFY_QUEUE))
                return [job_id for job_id in found if job_id]
        except redis.RedisError:
            return []

    def _name(self, worker: ManagedProcess) -> str:
        return worker.log_path.stem

    def died_unasked(self) -> list[str]:
        """The logs of processes that ended by themselves (not killed by a fault): each should still be serving."""
        current = [*self.workers, self.bot]
        return [p.log_path.name for p in current if p is not None and p.process.poll() is not None]

    def stop(self) -> None:
        self.stack.stop_all()
        self.redis.stop()

    def logs(self, prefix: str) -> str:
        """Every log of the processes whose log names start with ``prefix``, restarts included."""
        return "".join(path.read_text(errors="replace") for path in sorted(self.workdir.glob(f"{prefix}*.log")))


async def run_faults(system: System, faults: list[Fault], started: float) -> None:
    """Inflict the planned faults in order at their moments."""
    for fault in faults:
        await asyncio.sleep(max(0.0, started + fault.at - time.monotonic()))
        await system.inflict(fault)


async def chaos(config: Config, workdir: Path, model_cache_dir: Path, progress=print) -> dict[str, Any]:
    """Run the whole thing and return the report (see :func:`report`)."""
    rng = random.Random(config.seed)
    faults = plan_faults(config, rng)
    async with FakeTelegramAPI() as telegram:
        system = System(workdir, model_cache_dir, telegram, config)
        try:
            progress(f"starting redis, two workers and the bot in {workdir}")
            await system.start()
            users = Users(telegram, config, rng)
            stop_watching = asyncio.Event()
            watcher = asyncio.create_task(users.watch(stop_watching))
            started = time.monotonic()
            progress(f"traffic for {config.minutes:g} min, {len(faults)} faults: " + _plan_line(faults))
            await asyncio.gather(users.run(started + config.minutes * 60), run_faults(system, faults, started))
            progress(f"traffic over after {time.monotonic() - started:.0f} s; draining")
            drained = await _drain(users, config.drain_timeout)
            await asyncio.sleep(config.settle)
            stop_watching.set()
            await watcher
            progress(f"drained in {drained:.0f} s")
            return report(config, users, faults, system, drained)
        finally:
            await asyncio.to_thread(system.stop)


def _plan_line(faults: list[Fault]) -> str:
    return ", ".join(f"{f.kind}@{f.at:.0f}s" for f in faults)


async def _drain(users: Users, timeout: float) -> float:
    """Wait until no request is open (or ``timeout``); return how long it took."""
    began = time.monotonic()
    while users.open_requests() and time.monotonic() - began < timeout:
        await asyncio.sleep(1)
    return time.monotonic() - began


def recovery(fault: Fault, requests: list[Request]) -> dict[str, Any]:
    """What the fault cost, from the moment it struck.

    ``recovery_s``: until the next result reached a chat after the broken part was back (the system serves again);
    ``in_flight_done_s``: until every accepted request sent before the fault had its result (the work the fault
    caught in flight, e.g. a job cut off and re-run once found abandoned, is done).
    """
    after = [r.result_at for r in requests if r.result_at is not None and r.result_at >= fault.back]
    caught = [r for r in requests if r.sent < fault.happened and (r.result_at or fault.happened) >= fault.happened]
    finished = [r.result_at for r in caught if r.accepted_at is not None or r.result_at is not None]
    line = {
        "kind": fault.kind,
        "at_s": fault.at,
        "down_s": fault.down_for,
        "recovery_s": _since(fault, min(after, default=None)),
        "in_flight_done_s": _since(fault, None if None in finished else max(finished, default=fault.happened)),
    }
    if fault.kind == "worker":
        line |= {"worker_slot": fault.worker, "jobs_cut_off": len(fault.orphans)}
    return line


def _since(fault: Fault, moment: float | None) -> float | None:
    return None if moment is None else round(moment - fault.happened, 1)


def report(config: Config, users: Users, faults: list[Fault], system: System, drained: float) -> dict[str, Any]:
    """The counts, the recovery per fault and the invariant's verdict, as JSON-ready data."""
    outcomes = users.outcomes()
    requests = users.requests
    refused = Counter(o.refusal for o in outcomes.values() if o.refusal and not o.accepted)
    results = Counter(kind for o in outcomes.values() for kind in o.results[:1])
    accepted = [i for i, o in outcomes.items() if o.accepted]
    lost = [i for i in accepted if not outcomes[i].results]
    twice = [i for i in accepted if len(outcomes[i].results) > 1]
    unanswered = [i for i, o in outcomes.items() if not o.accepted and o.refusal is None]
    bot_log = system.logs("bot")
    per_fault = [recovery(fault, requests) for fault in faults]
    latencies = sorted(r.result_at - r.sent for r in requests if r.result_at is not None)
    violations = [
        *(_violation("lost", requests[i], outcomes[i], system, users.started) for i in lost),
        *(_violation("twice", requests[i], outcomes[i], system, users.started) for i in twice),
        *(_violation("unanswered", requests[i], outcomes[i], system, users.started) for i in unanswered),
    ]
    return {
        "config": {k: v for k, v in asdict(config).items() if k != "limits"} | {"limits": config.limits},
        "machine": _machine(),
        "sent": {"total": len(requests), **Counter(r.kind for r in requests)},
        "accepted": len(accepted),
        "refused": dict(refused),
        "unanswered": len(unanswered),
        "accepted_without_status": sum(1 for o in outcomes.values() if o.results and not o.status),
        "refused_yet_delivered": sum(1 for o in outcomes.values() if o.refusal and o.results),
        "delivered": {k: v for k, v in results.items() if not k.startswith("failed:")},
        "failed": {k.removeprefix("failed:"): v for k, v in results.items() if k.startswith("failed:")},
        "lost": len(lost),
        "twice": len(twice),
        "duplicates_suppressed": {name: bot_log.count(line) for name, line in SUPPRESSED.items()},
        "delivered_markers": _delivered_markers(system, [requests[i] for i in accepted]),
        "jobs_rerun_as_abandoned": system.logs("worker").count("error=AbandonedJobError"),
        "processes_died_unasked": system.died_unasked(),
        "result_seconds": _percentiles(latencies),
        "faults": per_fault,
        "worst_recovery_s": _worst(per_fault, "recovery_s"),
        "worst_in_flight_done_s": _worst(per_fault, "in_flight_done_s"),
        "drain_s": round(drained, 1),
        "invariant_holds": not violations and not system.died_unasked(),
        "violations": violations,
    }


def _violation(what: str, request: Request, outcome: Outcome, system: System, started: float) -> dict[str, Any]:
    """A broken promise with what Redis knows of its job, to start the investigation from."""
    line = {
        "what": what,
        "kind": request.kind,
        "job_id": request.job_id,
        "sent_s": round(request.sent - started, 1),
        "results": outcome.results,
        "refusal": outcome.refusal,
    }
    try:
        with contextlib.closing(system.client()) as connection:
            job = Job.fetch(request.job_id, connection=connection, serializer=JSONSerializer)
            line |= {"job_status": job.get_status(), "worker": job.worker_name, "retries_left": job.retries_left}
            line["delivered_marker"] = bool(connection.exists(delivered_key(request.job_id)))
    except Exception as exc:  # a diagnostic: whatever Redis says (or not) goes in the report
        line["job"] = f"{type(exc).__name__}: {exc}"
    return line


def _delivered_markers(system: System, accepted: list[Request]) -> int:
    try:
        with contextlib.closing(system.client()) as connection:
            return sum(bool(connection.exists(delivered_key(r.job_id))) for r in accepted)
    except redis.RedisError:
        return -1


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    quantiles = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
    return {"p50": round(statistics.median(values), 1), "p95": round(quantiles[18], 1), "max": round(values[-1], 1)}


def _worst(per_fault: list[dict[str, Any]], measure: str) -> dict[str, float | None]:
    worst: dict[str, float | None] = {}
    for kind in FAULT_KINDS:
        times = [f[measure] for f in per_fault if f["kind"] == kind]
        worst[kind] = None if not times or None in times else max(times)
    return worst


def _machine() -> dict[str, Any]:
    def commit() -> str:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    load = os.getloadavg()
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "load_at_end": " ".join(f"{value:.1f}" for value in load),
        "python": platform.python_version(),
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    return platform.processor()


def summary(result: dict[str, Any]) -> str:
    """The report in a few readable lines."""
    faults = result["faults"]

    def per_kind(measure: str) -> str:
        return ", ".join(f"{k} {v if v is not None else '—'} s" for k, v in result[measure].items())

    lines = [
        f"sent {result['sent']['total']} ({result['sent'].get('imagine', 0)} /imagine, "
        f"{result['sent'].get('photo', 0)} photos); accepted {result['accepted']}; refused {result['refused'] or 0}; "
        f"unanswered {result['unanswered']}; accepted without a status message (bot killed in between) "
        f"{result['accepted_without_status']}; refused yet delivered {result['refused_yet_delivered']}",
        f"delivered {result['delivered']}; failed {result['failed'] or 0}; lost {result['lost']}; "
        f"twice {result['twice']}",
        f"duplicates suppressed by the bot: {result['duplicates_suppressed']}; delivered markers "
        f"{result['delivered_markers']}; jobs re-run as abandoned (cut off by a kill or a Redis restart): "
        f"{result['jobs_rerun_as_abandoned']}",
        f"result time p50/p95/max: {result['result_seconds']}; drain {result['drain_s']} s",
        "faults (at → serving again / in-flight work done): "
        + "; ".join(f"{f['kind']}@{f['at_s']:.0f}s→{f['recovery_s']}/{f['in_flight_done_s']} s" for f in faults),
        f"worst until serving again: {per_kind('worst_recovery_s')}",
        f"worst until the work in flight was done: {per_kind('worst_in_flight_done_s')}",
        "invariant: " + ("HOLDS" if result["invariant_holds"] else "BROKEN " + json.dumps(result["violations"])),
    ]
    if result["processes_died_unasked"]:
        lines.append(f"processes that died unasked: {result['processes_died_unasked']}")
    return "\n".join(lines)
