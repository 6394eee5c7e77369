"""Memory allocators of a worker: the CUDA caching allocator's configuration, set in its environment before torch
is imported, and glibc's malloc for the CPU side (`keep_freed_memory`).

A worker runs jobs of many sizes one after another (a 512x512 picture, then four 1024x1024 ones, then photos); with
``expandable_segments:True`` the allocator grows its segments instead of reserving new fixed-size blocks for each
new size, so less memory is lost to fragmentation and a later, larger job is less likely to run out. The operator's
own ``PYTORCH_CUDA_ALLOC_CONF`` (or ``PYTORCH_ALLOC_CONF``, its name since torch 2.9) always wins.

This module imports no torch: it must run before torch initialises CUDA.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from collections.abc import Mapping, MutableMapping
from typing import NamedTuple

ALLOC_CONF = "PYTORCH_CUDA_ALLOC_CONF"
ALLOC_CONF_NAMES = (ALLOC_CONF, "PYTORCH_ALLOC_CONF")  # either set by the operator is theirs to keep
DEFAULT_ALLOC_CONF = "expandable_segments:True"


class AllocatorConfig(NamedTuple):
    """The allocator variable in effect, its value, and whether Molbert set it (False: the operator did)."""

    name: str
    value: str
    ours: bool

    def describe(self) -> str:
        """``NAME=value (Molbert's default)`` or ``NAME=value (set by the operator)``, for the start log."""
        source = "Molbert's default" if self.ours else "set by the operator"
        return f"{self.name}={self.value} ({source})"


def apply_allocator_default(env: MutableMapping[str, str] = os.environ) -> AllocatorConfig:
    """Set ``PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`` in ``env`` unless the operator set an allocator
    configuration there (an empty value counts as unset: compose passes ``${PYTORCH_CUDA_ALLOC_CONF:-}``).

    Call it before ``import torch``: torch reads the variable when it initialises CUDA.
    """
    for name in ALLOC_CONF_NAMES:
        value = env.get(name, "").strip()
        if value:
            return AllocatorConfig(name, value, ours=False)
    env[ALLOC_CONF] = DEFAULT_ALLOC_CONF
    return AllocatorConfig(ALLOC_CONF, DEFAULT_ALLOC_CONF, ours=True)


# mallopt(3) parameters, from <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MALLOC_TUNABLES = "GLIBC_TUNABLES"
MAX_KEEP_MB = 2047  # mallopt takes a C int of bytes


def keep_freed_memory(keep_mb: int, env: Mapping[str, str] = os.environ) -> str:
    """Make glibc's malloc keep freed blocks of up to ``keep_mb`` MB for reuse; returns a line for the start log.

    By default glibc serves every block above its mmap threshold (128 KiB, rising to at most 32 MiB) with a fresh
    ``mmap`` and gives it back to the kernel when freed, and trims the heap's free top too. A forward pass frees and
    re-allocates activations of the same sizes every time, so each pass page-faults all of them in again: on this
    project's 2-core CPU a batch of 8 photos through ruCLIP's image encoder spent more time in those faults than
    batching saved (``docs/benchmarks.md``). Fixing both thresholds keeps the memory in the process (RSS stays at
    the peak working set, as with jemalloc or tcmalloc). ``keep_mb=0``, a malloc setting in ``GLIBC_TUNABLES``
    (the operator's) or a C library other than glibc leave malloc as it is.
    """
    if keep_mb <= 0:
        return "glibc's defaults (WORKER_MALLOC_KEEP_MB=0)"
    if "glibc.malloc." in env.get(MALLOC_TUNABLES, ""):
        return f"set by the operator ({MALLOC_TUNABLES})"
    if platform.libc_ver()[0] != "glibc":
        return "not glibc: left as it is"
    keep = min(keep_mb, MAX_KEEP_MB) * 1024 * 1024
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not (libc.mallopt(M_MMAP_THRESHOLD, keep) and libc.mallopt(M_TRIM_THRESHOLD, keep)):
        return "glibc refused the thresholds: left as it is"
    return f"freed blocks up to {keep // (1024 * 1024)} MB kept for reuse (Molbert's default)"
