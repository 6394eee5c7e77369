"""Choosing the torch device and dtype the models run on."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)

AUTO = "auto"
DTYPE_NAMES = (AUTO, "float32", "bfloat16", "float16")  # MODEL_SMALL_MODELS_DTYPE's values (see small_dtype)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(preferred: str | None = None) -> str:
    """Return the device to run on: ``preferred`` if given, else ``cuda`` -> ``mps`` -> ``cpu``.

    ``None`` and ``"auto"`` mean "pick the best available". An explicit device such as ``"cuda:1"``
    is returned as given; asking for CUDA or MPS on a machine without it raises ``RuntimeError``
    rather than silently running a GPU deployment on the CPU.
    """
    if preferred and preferred.lower() != AUTO:
        _check_available(preferred)
        return preferred
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def _check_available(device: str) -> None:
    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    if kind == "mps" and not _mps_available():
        raise RuntimeError(f"device {device!r} requested but MPS is not available")


def pick_dtype(device: str) -> torch.dtype:
    """Return the weights dtype for ``device``.

    CUDA: bfloat16 where the card computes in it natively (Ampere and later), else float16 (torch would emulate
    bfloat16 on older cards, slowly); MPS: float16; CPU (and anything else): float32.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.float32


def small_dtype(name: str, device: str) -> torch.dtype:
    """The weights dtype of the small models (classifier, translator) from ``MODEL_SMALL_MODELS_DTYPE``.

    ``float32`` (the default) is how upstream ruCLIP runs, and the NSFW blur threshold is a cut on its scores,
    which half precision shifts; these models are small beside a generator (in float32 ruCLIP base ≈ 0.6 GB,
    large-patch14-336 ≈ 1.7 GB, MarianMT ≈ 0.3 GB). ``auto`` follows the generator (:func:`pick_dtype`: bf16/fp16
    on a GPU); ``bfloat16``/``float16`` are taken as given.
    """
    if name not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype {name!r}; choose one of: {', '.join(DTYPE_NAMES)}")
    return pick_dtype(device) if name == AUTO else getattr(torch, name)


CPUINFO = Path("/proc/cpuinfo")
# x86's AVX-512 BF16 and AMX, Arm's BF16 extension: where oneDNN multiplies bfloat16 in hardware. Elsewhere it
# converts to float32 and back, which makes bfloat16 slower than float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether this CPU computes in bfloat16 natively (its ``flags`` or, on Arm, ``Features`` in /proc/cpuinfo);
    ``False`` where that cannot be read (not Linux): bfloat16 is then an operator's explicit choice."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return False
    flags: set[str] = set()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & NATIVE_BF16_FLAGS)


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """The CPUs a container's cgroup lets this process use (its quota rounded up), or None where unlimited."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def cpu_threads(requested: int = 0, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The intra-op threads torch should use on the CPU (``MODEL_THREADS``; 0: decided here).

    torch counts the host's cores, but a container limited by affinity (``--cpuset-cpus``) or a CPU quota
    (``--cpus``) gets fewer: more threads than that time-slice each other and every matrix product waits for the
    slowest. So: the CPUs this process may run on, capped by the cgroup's quota.
    """
    if requested > 0:
        return requested
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota(cpu_max)
    return min(allowed, quota) if quota else allowed


def set_cpu_threads(requested: int = 0) -> int:
    """Set torch's intra-op thread count (see :func:`cpu_threads`) and return it."""
    threads = cpu_threads(requested)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    log.info("torch CPU threads: %d", threads)
    return threads
