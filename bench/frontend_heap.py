"""Frontend heap: does anything the bot's Python code allocates pile up per request? tracemalloc on a real bot.

The same system as `bench/frontend_soak.py` (a private redis-server, one ``python -m workers`` on the tiny preset,
the fake Bot API and the real bot, fed by the soak's simulated users), but the bot runs under a wrapper that starts
``tracemalloc`` on its first SIGUSR1 and writes a snapshot on every later one. After ``--warm-up`` requests (every
user seen, pools and caches filled) tracing starts; then ``--phases`` phases of ``--minutes`` each end with a
snapshot. Prints, per phase, the bot's RSS and how much more the traced Python heap holds than after the first
phase, then the allocation sites that grew most from the first snapshot to the last.

    python bench/frontend_heap.py [--minutes 2.5] [--phases 4] [--rate 6] [--users 50] [--warm-up 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.frontend_soak import Traffic, rss_mb, running_system  # noqa: E402

TRACED_BOT = """
import gc, itertools, runpy, signal, sys, tracemalloc
directory, snapshots = sys.argv[1], itertools.count()
def on_signal(*_):
    if not tracemalloc.is_tracing():
        tracemalloc.start(12)
        return
    gc.collect()
    tracemalloc.take_snapshot().dump(f"{directory}/snapshot{next(snapshots)}.bin")
signal.signal(signal.SIGUSR1, on_signal)
sys.argv = ["bot"]
runpy.run_module("bot", run_name="__main__")
"""


async def send_for(traffic: Traffic, count: int | None, seconds: float | None, rate: float) -> None:
    """Simulated requests at ``rate`` a second: ``count`` of them, or for ``seconds``."""
    end = None if seconds is None else time.monotonic() + seconds
    sent = 0
    while (count is None or sent < count) and (end is None or time.monotonic() < end):
        traffic.one_request()
        sent += 1
        await asyncio.sleep(random.expovariate(rate))


async def trace(args: argparse.Namespace, workdir: Path) -> list[float]:
    """Run the system, snapshot the bot's heap after each phase; returns the RSS after each phase (MB)."""
    rss = []
    async with running_system(workdir, ["-c", TRACED_BOT, str(workdir)]) as (telegram, bot):
        traffic = Traffic(telegram, args.users)
        await send_for(traffic, args.warm_up, None, args.rate)
        os.kill(bot.process.pid, signal.SIGUSR1)  # tracing starts
        for phase in range(args.phases):
            await send_for(traffic, None, args.minutes * 60, args.rate)
            await asyncio.sleep(5)  # let the last answers go out
            os.kill(bot.process.pid, signal.SIGUSR1)
            await asyncio.sleep(3)
            rss.append(rss_mb(bot.process.pid))
            print(f"phase {phase + 1}: {traffic.sent} requests sent, bot RSS {rss[-1]:.1f} MB", flush=True)
    return rss


def report(workdir: Path, rss: list[float]) -> None:
    """Traced heap per phase against the first, and the sites that grew most from the first to the last."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    snapshots = [
        tracemalloc.Snapshot.load(str(workdir / f"snapshot{n}.bin")).filter_traces(ignore) for n in range(len(rss))
    ]
    print("\n| after phase | bot RSS (MB) | traced Python heap vs phase 1 |")
    print("|---:|---:|---:|")
    for n, (snapshot, mb) in enumerate(zip(snapshots, rss, strict=True)):
        grown = sum(stat.size_diff for stat in snapshot.compare_to(snapshots[0], "filename"))
        print(f"| {n + 1} | {mb:.1f} | {grown / 1024:+.0f} KiB |")
    print("\nSites that grew most, phase 1 → last:")
    for stat in snapshots[-1].compare_to(snapshots[0], "lineno")[:8]:
        print(f"  {stat.size_diff / 1024:+8.1f} KiB {stat.count_diff:+6d} blocks  {stat.traceback[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.5, help="length of each phase")
    parser.add_argument("--phases", type=int, default=4, help="phases, a snapshot after each")
    parser.add_argument("--rate", type=float, default=6.0, help="requests per second, on average")
    parser.add_argument("--users", type=int, default=50, help="distinct users/chats")
    parser.add_argument("--warm-up", type=int, default=300, help="requests before tracing starts")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="molbert-heap-") as tmp:
        rss = asyncio.run(trace(args, Path(tmp)))
        report(Path(tmp), rss)


if __name__ == "__main__":
    main()
