"""The worker's start on the GPU path as real ``python -m workers`` processes, without a GPU: the CUDA allocator
default (and the host malloc one) is set unless the operator set their own, and the warm-up picture is painted
before ``ready`` (or not, with ``MODEL_WARMUP=false``) and reaches no chat. The in-process parts are in
tests/unit/workers/test_gpu_path.py."""

from __future__ import annotations

import asyncio

from core.keys import KEY_PREFIX, ranker_key
from tests.processes import ManagedProcess
from workers.allocator import ALLOC_CONF

OPERATORS_CONF = "garbage_collection_threshold:0.6"


def start_worker(name: str, env: dict[str, str], redis_url: str, model_cache_dir, tmp_path) -> ManagedProcess:
    base = {"REDIS_URL": redis_url, "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir)}
    return ManagedProcess(
        ["-m", "workers"], {**base, "WORKER_NAME": name, **env}, cwd=tmp_path, log_path=tmp_path / f"{name}.log"
    )


async def test_the_worker_warms_up_before_ready_and_keeps_the_operators_allocator_setting(
    redis_url, redis_conn, model_cache_dir, tmp_path, monkeypatch
):
    for name in (ALLOC_CONF, "PYTORCH_ALLOC_CONF"):
        monkeypatch.delenv(name, raising=False)  # the first worker must find neither set
    warm = start_worker("warm", {}, redis_url, model_cache_dir, tmp_path)
    cold = start_worker(
        "cold",
        {"MODEL_WARMUP": "false", ALLOC_CONF: OPERATORS_CONF, "WORKER_MALLOC_KEEP_MB": "0"},
        redis_url,
        model_cache_dir,
        tmp_path,
    )
    try:
        await asyncio.gather(warm.wait_for_log("ready:", timeout=300), cold.wait_for_log("ready:", timeout=300))
    finally:
        await asyncio.gather(asyncio.to_thread(warm.stop), asyncio.to_thread(cold.stop))

    assert "CUDA allocator: PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (Molbert's default)" in warm.log
    assert f"CUDA allocator: {ALLOC_CONF}={OPERATORS_CONF} (set by the operator)" in cold.log
    assert "host malloc: freed blocks up to 1024 MB kept for reuse (Molbert's default)" in warm.log
    assert "host malloc: glibc's defaults (WORKER_MALLOC_KEEP_MB=0)" in cold.log
    warm_up = warm.log.index("warm-up: one 64x64 picture in 2 steps took")
    assert warm.log.index("loaded generator") < warm_up < warm.log.index("ready:")
    assert "warm-up" not in cold.log
    settled = warm.log.index("start-up objects set aside from garbage collection:")
    assert warm_up < settled < warm.log.index("ready:"), "the models and the warm-up's objects are set aside too"
    # the throwaway picture went nowhere: no result stream, no stored image, nothing of Molbert's in Redis but what
    # ranks the workers' pictures (published at start for /stats)
    assert redis_conn.keys(f"{KEY_PREFIX}:*") in ([], [ranker_key().encode()])
