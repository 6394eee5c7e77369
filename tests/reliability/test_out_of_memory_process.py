"""A real worker process runs out of memory on one picture: that job is refused once with a clear message (no
retries, the same request would run out again), and the same process goes on serving.

No GPU here, so the memory that runs out is the process's own: the test caps the ready worker's address space
(``prlimit``, as a container's memory limit would) and asks for a picture from a generator whose native size
needs far more than is left. torch reports the CPU allocator's failure as a RuntimeError, the worker's
out-of-memory handling treats it like CUDA's ``OutOfMemoryError`` (tested in process:
``test_out_of_memory.py``).
"""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

from rq.job import Job
from rq.serializers import JSONSerializer

from handlers.texts import t
from tests import images
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.reliability.conftest import poll, slow_generator

HEADROOM = 1536 * 2**20  # what the worker may still map: far below what one 8192 px picture needs


def address_space(pid: int) -> int:
    """The process's mapped virtual memory (VmSize) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize for {pid}")


async def test_a_picture_too_big_for_memory_is_refused_once_and_the_worker_keeps_serving(
    stack, redis_conn, tiny_models, tmp_path
):
    huge = slow_generator(stack.model_cache_dir, tmp_path, steps=4, size=8192)
    worker = stack.worker("worker-a", MODEL_GENERATOR=str(huge), MODEL_WARMUP="false")
    async with FakeTelegramAPI() as telegram:
        bot = stack.bot(telegram)
        await worker.wait_for_log("ready: preset tiny", timeout=180)
        await telegram.wait_for_call("setMyCommands", timeout=60)
        pid = worker.process.pid
        limit = address_space(pid) + HEADROOM
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))

        alice = telegram.user(4951, "Алиса")
        asked = telegram.send_text(alice["id"], alice, "/imagine огромная фреска")
        refusal = await telegram.wait_for_text(alice["id"], t("out_of_memory", "ru"), after=asked["message_id"])
        photo = telegram.send_photo(alice["id"], alice, images.png(64, 64), caption="кошка, собака")
        await telegram.wait_for_text(alice["id"], "кошка", after=photo["message_id"], timeout=60)

        job_id = await poll(lambda: _failed_picture(redis_conn), 10, "the refused job")
        job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
        assert job.get_status() == "finished" and job.retries_left == 2  # refused at once, never retried
        assert worker.log.count("ran out of memory") == 1, worker.log
        assert worker.process.poll() is None  # the same process answered the photo
        assert "Traceback" not in refusal.content
        assert await asyncio.to_thread(bot.stop) == 0, bot.log


def _failed_picture(redis_conn) -> str | None:
    ids = [key.decode().removeprefix("rq:job:") for key in redis_conn.scan_iter("rq:job:telegram-imagine-*")]
    return ids[0] if ids else None
