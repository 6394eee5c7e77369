"""Does Molbert learn its users' taste through the bot itself? ``bench/learning.py`` with the real bot in the loop.

Starts what ``bench/frontend_soak.py`` starts (a private redis-server, one ``python -m workers`` on the tiny preset,
the fake Bot API the tests use, and the real ``python -m bot`` talking to it, its feedback in the SQLite file it
makes in ``BOT_DATA_DIR`` as with default settings). Simulated users in ten private chats, all at once (each
waits for their own grid, as people do), send ``/imagine`` with a Russian prompt and ``--n 4``, look at the 2×2
grid the bot sends (the photo's bytes: each quarter is one candidate), and press U on the reddest cell
(``bench.learning.redness``) through a callback query, as a person taps a button. After N presses (every user
waits there until the bot has written them) the database is copied and the real
``python -m workers train-ranker --database <copy>`` trains on it. Then more grids are painted and pressed the
same way: the latest ``--held-out`` of them, read back from the bot's database with the worker's embeddings, are
the held-out grids every ranker is scored on with ``bench.learning.evaluate`` (learned vs cosine vs random vs the
linear probe vs the oracle: the user's own press).

The worker paints with the ``cpu`` preset's tiny twin (:func:`build_generator`: the tiny random SD-Turbo with the
tiny random TAESD as its VAE, a diffusers pipeline it loads through ``MODEL_GENERATOR``), whose pictures' colour
follows their latents; ``--generator tiny`` keeps the tiny preset's own, whose pictures are grey noise (see
``bench/learning_pictures.py``). The tiny ruCLIP (random, 32 dimensions) embeds them as the worker embeds its
candidates.

    python bench/learning_bot.py [--presses 50 200 1000] [--held-out 500] [--seed 1] [--generator taesd]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
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
from collections.abc import Iterator
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
    """What the simulated users did: per press number, the user's chat and the redness of the grid's cells; and
    timings."""

    reds: dict[int, tuple[int, list[float]]] = field(default_factory=dict)
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


def is_grid(message) -> bool:
    """Whether ``message`` is a grid photo (U1 under it), not the single picture a U press brings."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return message.photo is not None and any(button["text"] == "U1" for row in rows for button in row)


async def one_press(telegram: FakeTelegramAPI, chat: int, rng: random.Random) -> list[float]:
    """User ``chat`` asks for a picture, gets the grid, presses U on its reddest cell; the cells' redness."""
    user_id = FIRST_USER + chat
    user = telegram.user(user_id, f"Гость {chat}")
    asked = telegram.send_text(user_id, user, f"/imagine {rng.choice(PROMPTS)} --n 4")
    grid = await telegram.wait_for_message(user_id, is_grid, after=asked["message_id"], timeout=300)
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


def build_generator(path: Path) -> Path:
    """The bench's generator, saved as a diffusers pipeline the worker loads through ``MODEL_GENERATOR``: the tiny
    random SD-Turbo twin of the ``cpu`` preset (``models.tiny_families``) with the tiny TAESD twin as its VAE, as
    the ``cpu`` preset pairs them. The tiny preset's own generator paints grey noise whose colour carries no
    taste (its VAE decoder normalises with a GroupNorm just before its last convolution, TAESD's does not: see
    ``bench/learning_pictures.py``). Reads Russian: its CLIP tokenizer is byte-level (no translator)."""
    from diffusers import AutoencoderTiny, StableDiffusionPipeline

    from models.tiny_families import build_tiny_sd_turbo, build_tiny_taesd

    turbo = build_tiny_sd_turbo(path.parent / "tiny-sd-turbo")
    taesd = AutoencoderTiny.from_pretrained(build_tiny_taesd(path.parent / "tiny-taesd"))
    StableDiffusionPipeline.from_pretrained(turbo, vae=taesd).save_pretrained(path)
    defaults = json.loads((turbo / "molbert.json").read_text(encoding="utf-8"))
    (path / "molbert.json").write_text(json.dumps({**defaults, "reads_russian": True}), encoding="utf-8")
    return path


async def user_presses(telegram: FakeTelegramAPI, chat: int, numbers: Iterator[int], run: Run, seed: int) -> None:
    """One simulated user's presses, one after another, while ``numbers`` (shared by all users) hands out press
    numbers: each user waits for their grid, so ten users keep the worker busy while the bot answers the others."""
    rng = random.Random(seed * 1000 + chat)
    for number in numbers:
        run.reds[number] = (chat, await one_press(telegram, chat, rng))


async def drive(workdir: Path, checkpoints: list[int], held_out: int, seed: int, worker_env: dict[str, str]) -> Run:
    """The simulated users' presses through the bot, the ten users at once: a copy of its database at each
    checkpoint (every user waits there, so the copy holds exactly the first N presses), then the held-out presses."""
    run = Run()
    database = workdir / "data" / SQLITE_FILE
    bounds = [0, *checkpoints, max(checkpoints) + held_out]
    async with running_system(workdir, ["-m", "bot"], worker_env) as (telegram, _bot):
        started = time.perf_counter()
        for start, end in itertools.pairwise(bounds):
            numbers = iter(range(start, end))
            await asyncio.gather(*(user_presses(telegram, chat, numbers, run, seed) for chat in range(CHATS)))
            await written(database, end)
            if end in checkpoints:
                copy = snapshot(database, workdir / f"after-{end}.sqlite3")
                run.snapshots[end] = (copy, time.perf_counter() - started)
                print(f"# {end} presses through the bot in {time.perf_counter() - started:.0f} s", flush=True)
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


def held_out_reds(run: Run, held_out: list[Preference], first: int) -> list[float]:
    """The cells' redness of each held-out grid, in the order the store hands the grids back (by press time):
    the users pressed at once, so the press numbers are matched per chat, where one user's presses are in order."""
    queues: dict[str, list[list[float]]] = {}
    for number in sorted(n for n in run.reds if n >= first):
        chat, reds = run.reds[number]
        queues.setdefault(f"telegram:{FIRST_USER + chat}", []).append(reds)
    aligned = [queues[grid.chat_key].pop(0) for grid in held_out]
    if any(grid.chosen != max(range(4), key=reds.__getitem__) for grid, reds in zip(held_out, aligned, strict=True)):
        raise RuntimeError("the held-out grids read back do not match the presses")
    return [red for reds in aligned for red in reds]


def worker_settings(generator: str, workdir: Path) -> dict[str, str]:
    """The worker's extra settings: ``MODEL_GENERATOR`` for the bench's generator (``taesd``; none for ``tiny``,
    the tiny preset's own grey noise, as a contrast) and one torch thread (``MODEL_THREADS=1``): on a shared
    two-core machine two threads for models this small wait on each other, eight times slower here."""
    if generator == "tiny":
        return {"MODEL_THREADS": "1"}
    built = build_generator(workdir / "generator" / "tiny-sd-turbo-taesd")
    return {"MODEL_GENERATOR": str(built), "MODEL_THREADS": "1"}


def variant(copy: Path, presses: int, options: ranker.TrainOptions, held_out: list[Preference]) -> float:
    """nDCG@1 on ``held_out`` of a ranker trained here with ``options`` on the same stored presses as train-ranker
    (to see what its default options leave on the table)."""
    history = asyncio.run(held_out_grids(copy, presses))
    training = ranker.train(history, options)
    return evaluate(training.model, held_out, torch.zeros(len(held_out[0].prompt_embedding)))["learned"]


def report(run: Run, held_out: list[Preference], ceiling: torch.Tensor, workdir: Path, options: dict) -> None:
    """Train on each checkpoint's copy with the real train-ranker (and in-process with ``options``) and print the
    table row."""
    print("| presses | through the bot | learned nDCG@1 | cosine | random | linear probe | oracle | live |", end="")
    print(f" train-ranker | learned, {options} |\n|---|---|---|---|---|---|---|---|---|---|")
    for presses in sorted(run.snapshots):
        copy, seconds = run.snapshots[presses]
        model, training = train_ranker(copy, workdir / f"rankers-{presses}")
        figures = evaluate(None if model is None else model.net, held_out, ceiling)
        live = model is not None and ranker.beats_cosine(model.info, 0.02)
        other = variant(copy, presses, ranker.TrainOptions(**options), held_out)
        print(
            f"| {presses} | {seconds:.0f} s ({presses / seconds:.1f} a second) | {figures['learned']:.2f} | "
            f"{figures['cosine']:.2f} | {figures['random']:.2f} | {figures['probe']:.2f} | {figures['oracle']:.2f} | "
            f"{'yes' if live else 'no'} | {training:.1f} s | {other:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--held-out", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--generator", choices=("taesd", "tiny"), default="taesd")
    parser.add_argument(
        "--variant",
        default="l2=0.01,epochs=40",
        help="TrainOptions for an extra in-process ranker (default: the old ones)",
    )
    args = parser.parse_args()
    checkpoints = sorted(set(args.presses))
    workdir = Path(tempfile.mkdtemp(prefix="molbert-learning-bot-"))
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, commit {commit()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; generator {args.generator}; workdir {workdir}",
        flush=True,
    )
    run = asyncio.run(drive(workdir, checkpoints, args.held_out, args.seed, worker_settings(args.generator, workdir)))
    held_out = asyncio.run(held_out_grids(workdir / "data" / SQLITE_FILE, args.held_out))
    if len(held_out) != args.held_out:
        raise RuntimeError(f"{len(held_out)} held-out grids read back for {args.held_out} pressed")
    reds = held_out_reds(run, held_out, max(checkpoints))
    ceiling = probe((torch.tensor([image for grid in held_out for image in grid.image_embeddings]), reds))
    grids = [sorted(reds) for _chat, reds in run.reds.values()]
    print(f"# redness of a cell: median {statistics.median(r for grid in grids for r in grid):.1f}; the reddest")
    print(f"# cell beats the second by a median {statistics.median(g[-1] - g[-2] for g in grids):.2f} (of 255)")
    options = {key: float(value) for key, value in (pair.split("=") for pair in args.variant.split(","))}
    report(run, held_out, ceiling, workdir, {key: int(v) if v.is_integer() else v for key, v in options.items()})
    print(f"# held out: {len(held_out)} grids; reports in {workdir}/rankers-*/: " + json.dumps(checkpoints))


if __name__ == "__main__":
    main()
