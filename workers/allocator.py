"""The CUDA caching allocator's configuration for a worker, set in its environment before torch is imported.

A worker runs jobs of many sizes one after another (a 512x512 picture, then four 1024x1024 ones, then photos); with
``expandable_segments:True`` the allocator grows its segments instead of reserving new fixed-size blocks for each
new size, so less memory is lost to fragmentation and a later, larger job is less likely to run out. The operator's
own ``PYTORCH_CUDA_ALLOC_CONF`` (or ``PYTORCH_ALLOC_CONF``, its name since torch 2.9) always wins.

This module imports no torch: it must run before torch initialises CUDA.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
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
