"""Upscale on this CPU: a real-size RRDBNet (Real-ESRGAN ×4's shape: 23 blocks, 64 features, random weights, saved
in Real-ESRGAN's checkpoint format and loaded through spandrel as the worker loads it), seconds per megapixel of the
input picture, tiled (the CPU's tile plan, ``models.upscaler.tile_plan``) vs one pass, and peak memory.

Each mode runs in a child process of its own, so its peak RSS (``ru_maxrss``) is that mode's alone: the model,
the torch runtime and the activations of one tile (or of the whole picture in one pass). Times are the median of
``--rounds`` runs after one warm-up run on a small picture.

    python bench/upscale.py [--side 384] [--rounds 2] [--tile 64]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def run_mode(weights: Path, mode: str, side: int, rounds: int, tile: int | None) -> dict:
    """One mode in this process: load, warm up, time ``rounds`` upscales of a ``side``² picture."""
    import numpy as np
    import torch
    from PIL import Image

    from models.device import set_cpu_threads
    from models.upscaler import TilePlan, Upscaler

    threads = set_cpu_threads(0)
    started = time.perf_counter()
    upscaler = Upscaler.from_file(str(weights), "cpu")
    load = time.perf_counter() - started
    if mode == "one-pass":
        upscaler.plan = TilePlan(tile=side)
    elif tile:
        upscaler.plan = TilePlan(tile=tile)
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8))
    upscaler.upscale(picture.resize((32, 32)), 4)  # warm-up
    times, cpu, tiles = [], [], []
    for _ in range(rounds):
        began, began_cpu = time.perf_counter(), time.process_time()
        upscaler.upscale(picture, 4, lambda done, total: tiles.append(total))
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    megapixels = side * side / 1e6
    seconds = statistics.median(times)
    return {
        "mode": mode,
        "tile": upscaler.plan.tile,
        "tiles": tiles[-1] if tiles else 1,
        "seconds": round(seconds, 1),
        "s_per_mp": round(seconds / megapixels, 1),
        "cpu_s_per_mp": round(statistics.median(cpu) / megapixels, 1),  # CPU seconds: what a busy machine hides
        "load_s": round(load, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "threads": threads,
        "torch": torch.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=384, help="the input picture's side (px)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tile", type=int, help="the tiled mode's tile (px); default: the CPU's tile plan")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # a child: one mode
        print(json.dumps(run_mode(Path(args.weights), args.mode, args.side, args.rounds, args.tile)))
        return 0
    from models.tiny_families import build_tiny_upscaler

    with tempfile.TemporaryDirectory() as folder:
        weights = build_tiny_upscaler(Path(folder), blocks=23, features=64)  # Real-ESRGAN ×4's size: 16.7 M params
        print(f"# {platform.processor() or platform.machine()}, input {args.side}² → {args.side * 4}², random weights")
        print(
            "| mode | tile | tiles | s per run | s per input MP | CPU s per input MP | peak RSS GB | load s | threads |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for mode in ("tiled", "one-pass"):
            command = [sys.executable, __file__, "--mode", mode, "--weights", str(weights)]
            command += ["--side", str(args.side), "--rounds", str(args.rounds)] + (
                ["--tile", str(args.tile)] * bool(args.tile)
            )
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(
                f"| {mode} | {result['tile']} | {result['tiles']} | {result['seconds']} | {result['s_per_mp']} "
                f"| {result['cpu_s_per_mp']} "
                f"| {result['peak_rss_gb']} | {result['load_s']} | {result['threads']} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
