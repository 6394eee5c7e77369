"""Does Molbert learn its users' taste through the bot itself? ``bench/learning.py`` with the real bot in the loop.

Starts what ``bench/frontend_soak.py`` starts (a private redis-server, one ``python -m workers`` on the tiny preset,
the fake Bot API the tests use, and the real ``python -m bot`` talking to it, its feedback in the SQLite file it
makes in ``BOT_DATA_DIR`` as with default settings). Simulated users in ten private chats send ``/imagine`` with a
Russian prompt and ``--n 4`` (the tiny preset paints one picture by default), look at the 2×2 grid the bot sends
(the photo's bytes: each quarter is one candidate), and press U on the reddest cell (``bench.learning.redness``)
through a callback query, as a person taps a button. After N presses (waiting until the bot has written them) the
database is copied and the real
``python -m workers train-ranker --database <copy>`` trains on it. Then more grids are painted and pressed the
same way: the latest ``--held-out`` of them, read back from the bot's database with the worker's embeddings, are
the held-out grids every ranker is scored on with ``bench.learning.evaluate`` (learned vs cosine vs random vs the
linear probe vs the oracle: the user's own press).

The tiny generator has random weights: its pictures are coloured noise, whose redness varies from grid to grid
and cell to cell, and the tiny ruCLIP (random, 32 dimensions) embeds them as the worker embeds its candidates.

    python bench/learning_bot.py [--presses 50 200] [--held-out 100]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.frontend_soak import running_system  # noqa: E402
from bench.learning import CHATS, PROMPTS, commit, evaluate, probe, redness  # noqa: E402
from core.database import SQLITE_FILE, create_engine, database_url  # noqa: E402
from core.feedback_store import FeedbackStore  # noqa: E402
from core.preferences import Preference  # noqa: E402
from models import ranker  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

FIRST_USER = 300_000


@dataclass
class Run:
    """What the simulated users did: the redness of each pressed grid's cells, in press order, and timings."""

    reds: list[list[float]] = field(default_factory=list)
    snapshots: dict[int, tuple[Path, float]] = field(default_factory=dict)  # presses → (database copy, seconds)


def cells(photo: bytes) -> list[Image.Image]:
    """The four candidates of a 2×2 grid photo, in U1…U4 order (left to right, top to bottom)."""
    grid = Image.open(io.BytesIO(photo)).convert("RGB")
    half_w, half_h = grid.width // 2, grid.height // 2
    return [grid.crop((x * half_w, y * half_h, (x + 1) * half_w, (y + 1) * half_h)) for y in (0, 1) for x in (0, 1)]


def u_buttons(message) -> list[str]:
    """The U1…U4 actions under a grid."""
    found = {b["text"]: b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row}
    return [found[f"U{i}"] for i in range(1, 5)]


async def one_press(telegram: FakeTelegramAPI, number: int, rng: random.Random) -> list[float]:
    """A user asks for a picture, gets the grid, presses U on its reddest cell; the cells' redness."""
    user_id = FIRST_USER + number % CHATS
    user = telegram.user(user_id, f"Гость {number % CHATS}")
    asked = telegram.send_text(user_id, user, f"/imagine {rng.choice(PROMPTS)} --n 4")
    grid = await telegram.wait_for_photo(user_id, after=asked["message_id"], timeout=300)
    reds = [redness(cell) for cell in cells(grid.photo)]
    best = max(range(4), key=reds.__getitem__)
    query = telegram.press_button(user_id, user, grid.message_id, u_buttons(grid)[best])
    await telegram.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == query["id"], timeout=60)
    return reds


def stored_choices(database: Path) -> int:
    """How many presses the bot has written so far."""
    if not database.is_file():
        return 0
    with sqlite3.connect(database, timeout=30) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM feedback_choices").fetchone()[0])
        except sqlite3.OperationalError:  # the bot has not made its tables yet
            return 0


async def written(database: Path, count: int, timeout: float = 120.0) -> None:
    """Wait until the bot's buffered writer has stored ``count`` presses."""
    deadline = time.monotonic() + timeout
    while stored_choices(database) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the bot wrote {stored_choices(database)} of {count} presses")
        await asyncio.sleep(0.5)


def snapshot(database: Path, target: Path) -> Path:
    """A consistent copy of the bot's SQLite file while the bot keeps writing."""
    with sqlite3.connect(database, timeout=30) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return target


async def drive(workdir: Path, checkpoints: list[int], held_out: int, seed: int) -> Run:
    """The simulated users' presses through the bot: copies of its database at each checkpoint, then the held-out
    grids' presses."""
    run, rng = Run(), random.Random(seed)
    database = workdir / "data" / SQLITE_FILE
    async with running_system(workdir, ["-m", "bot"]) as (telegram, _bot):
        started = time.perf_counter()
        for number in range(max(checkpoints) + held_out):
            run.reds.append(await one_press(telegram, number, rng))
            if number + 1 in checkpoints:
                await written(database, number + 1)
                copy = snapshot(database, workdir / f"after-{number + 1}.sqlite3")
                run.snapshots[number + 1] = (copy, time.perf_counter() - started)
                print(f"# {number + 1} presses through the bot in {time.perf_counter() - started:.0f} s", flush=True)
        await written(database, max(checkpoints) + held_out)
    return run


def train_ranker(copy: Path, rankers: Path) -> tuple[ranker.LoadedRanker | None, float]:
    """The real ``python -m workers train-ranker`` on a copy of the bot's database; the ranker it saved (``None``:
    too few presses) and the seconds it took."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "workers", "train-ranker", "--database", f"sqlite:///{copy}"]
    command += ["--dir", str(rankers), "--clip-model", "tiny"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ, "MODEL_PRESET": "tiny"})
    seconds = time.perf_counter() - started
    print("\n".join(f"#   {line}" for line in done.stdout.strip().splitlines()), flush=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"train-ranker failed ({done.returncode}): {done.stderr}")
    return ranker.load_latest(rankers), seconds


async def held_out_grids(database: Path, count: int) -> list[Preference]:
    """The latest ``count`` presses as the bot stored them (the worker's embeddings, the cell pressed)."""
    engine = create_engine(database_url(f"sqlite:///{database}", database.parent))
    try:
        return (await FeedbackStore(engine).preferences())[-count:]
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    checkpoints = sorted(set(args.presses))
    workdir = Path(tempfile.mkdtemp(prefix="molbert-learning-bot-"))
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, commit {commit()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; workdir {workdir}",
        flush=True,
    )
    run = asyncio.run(drive(workdir, checkpoints, args.held_out, args.seed))
    held_out = asyncio.run(held_out_grids(workdir / "data" / SQLITE_FILE, args.held_out))
    reds = [red for grid in run.reds[-args.held_out :] for red in grid]
    pool = (torch.tensor([image for grid in held_out for image in grid.image_embeddings]), reds)
    if len(held_out) != args.held_out or len(pool[0]) != len(reds):
        raise RuntimeError(f"{len(held_out)} held-out grids read back for {args.held_out} pressed")
    ceiling = probe(pool)
    gaps = [sorted(grid)[-1] - sorted(grid)[-2] for grid in run.reds]
    print(f"# redness of a cell: median {statistics.median(r for grid in run.reds for r in grid):.1f}; the reddest")
    print(f"# cell beats the second by a median {statistics.median(gaps):.1f} (of 255)")
    print("| presses | through the bot | learned nDCG@1 | cosine | random | linear probe | oracle | live |", end="")
    print(" train-ranker |\n|---|---|---|---|---|---|---|---|---|")
    for presses in checkpoints:
        copy, seconds = run.snapshots[presses]
        model, training = train_ranker(copy, workdir / f"rankers-{presses}")
        figures = evaluate(None if model is None else model.net, held_out, ceiling)
        live = model is not None and ranker.beats_cosine(model.info, 0.02)
        print(
            f"| {presses} | {seconds:.0f} s | {figures['learned']:.2f} | {figures['cosine']:.2f} | "
            f"{figures['random']:.2f} | {figures['probe']:.2f} | {figures['oracle']:.2f} | "
            f"{'yes' if live else 'no'} | {training:.1f} s |",
            flush=True,
        )
    print(f"# held out: {len(held_out)} grids; reports in {workdir}/rankers-*/: " + json.dumps(checkpoints))


if __name__ == "__main__":
    main()
