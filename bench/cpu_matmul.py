"""What batching can buy on this CPU: the matrix multiplications of ruCLIP's image encoder, alone, in GFLOPS.

ViT-B/32 at 384 px turns a photo into 145 tokens; each of the encoder's 12 layers multiplies them by four 768×768
matrices (q, k, v, out) and by the MLP's 768×3072 and 3072×768 ones — about 80 % of the encoder's time on a CPU
(``torch.profiler``: ``aten::addmm``). A batch of N photos makes those products N × 145 rows tall. This script
times ``torch.nn.Linear`` at those shapes for 1, 8 and 32 photos, with 1 thread and with all of torch's threads,
in float32 (what a CPU worker runs) and in bfloat16, and prints the rate reached: the ratio between the 8-photo
and the 1-photo rate is the most that batching 8 photos can gain here, however the batch is formed.

    python bench/cpu_matmul.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from workers.allocator import keep_freed_memory  # noqa: E402
from workers.config import WorkerSettings  # noqa: E402

TOKENS_PER_PHOTO = 145  # (384 / 32)² patches + the class token
SHAPES = ((768, 768), (768, 3072), (3072, 768))  # (in, out): attention projections, MLP up, MLP down
PHOTOS = (1, 8, 32)


def gflops(layer: torch.nn.Linear, rows: int, runs: int, dtype: torch.dtype) -> float:
    """The rate of ``layer`` on ``rows`` random rows: median over ``runs`` calls, after three untimed ones."""
    inputs = torch.randn(rows, layer.in_features, dtype=dtype)
    for _ in range(3):
        layer(inputs)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        layer(inputs)
        times.append(time.perf_counter() - started)
    return 2 * rows * layer.in_features * layer.out_features / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed calls per shape (median)")
    args = parser.parse_args()
    print(f"host malloc: {keep_freed_memory(WorkerSettings.model_fields['malloc_keep_mb'].default)}")
    torch.set_grad_enabled(False)
    all_threads = torch.get_num_threads()
    header = " | ".join(f"{count} photo{'s' if count > 1 else ''}" for count in PHOTOS)
    print(f"| dtype | threads | layer (in → out) | {header} | 8 ÷ 1 |")
    print("|---|---:|---|" + "---:|" * (len(PHOTOS) + 1))
    for dtype in (torch.float32, torch.bfloat16):
        for threads in sorted({1, all_threads}, reverse=True):  # all first: going back up after 1 ran slow
            torch.set_num_threads(threads)
            for features_in, features_out in SHAPES:
                layer = torch.nn.Linear(features_in, features_out).to(dtype)
                rates = [gflops(layer, count * TOKENS_PER_PHOTO, args.runs, dtype) for count in PHOTOS]
                cells = " | ".join(f"{rate:.0f}" for rate in rates)
                name = str(dtype).removeprefix("torch.")
                print(f"| {name} | {threads} | {features_in} → {features_out} | {cells} | {rates[1] / rates[0]:.2f}× |")
    torch.set_num_threads(all_threads)
    print("\n(GFLOPS: 2 × rows × in × out per call; medians of", args.runs, "calls)")


if __name__ == "__main__":
    main()
