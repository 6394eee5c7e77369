"""glibc's malloc in a worker (``WORKER_MALLOC_KEEP_MB``): freed activations stay in the process for the next forward
pass instead of being unmapped and page-faulted in again, and the operator can keep glibc's way."""

from __future__ import annotations

import subprocess
import sys

from tests.processes import REPO
from workers.allocator import keep_freed_memory

# Allocate, fill and free a 40 MB tensor (above glibc's largest dynamic mmap threshold, 32 MiB) 30 times, as forward
# passes do with their activations; print the minor page faults of the last 10, once the heap has settled (the
# first passes grow it: small allocations land between the freed blocks).
FORWARD_PASSES = """
import resource, sys, torch
from workers.allocator import keep_freed_memory
print(keep_freed_memory(int(sys.argv[1])), file=sys.stderr)
for _ in range(20):
    torch.ones(10_000_000)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    torch.ones(10_000_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES_OF_ONE_PASS = 40_000_000 // 4096


def page_faults_of_repeated_passes(keep_mb: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", FORWARD_PASSES, str(keep_mb)], cwd=REPO, capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_kept_memory_is_reused_without_page_faults():
    glibc_way = page_faults_of_repeated_passes(0)
    kept = page_faults_of_repeated_passes(1024)
    assert glibc_way > 10 * PAGES_OF_ONE_PASS * 0.9  # every pass faulted its 40 MB in again
    assert kept < PAGES_OF_ONE_PASS / 10  # the memory was there already


def test_zero_keeps_glibcs_defaults():
    assert keep_freed_memory(0, env={}) == "glibc's defaults (WORKER_MALLOC_KEEP_MB=0)"


def test_the_operators_glibc_tunables_win():
    env = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}
    assert keep_freed_memory(1024, env=env) == "set by the operator (GLIBC_TUNABLES)"
