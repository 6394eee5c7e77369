"""Chaos benchmark: the whole system on loopback under simulated users while a seeded schedule breaks it.

A redis-server with AOF (everysec), two ``python -m workers`` (tiny preset), ``python -m bot`` and the fake Bot API
the tests use. ``--users`` users send ``/imagine …`` and photos (each one every ``--think`` s on average) for
``--minutes``; meanwhile, about every ``--fault-every`` s, in turns: a random worker is SIGKILLed and restarted, the
bot is SIGKILLed and restarted, Redis is stopped (SIGTERM) and started again. Then a drain with no faults.

The invariant: every request the bot accepted got exactly one result (a picture, labels or one failure text),
none twice, none lost, and every request got an answer. Prints a summary and writes the full report as JSON
(``--out``); exits 1 when the invariant is broken. The engine is ``tests/reliability/chaos.py``.

    python bench/chaos.py [--minutes 10] [--users 20] [--seed 1] [--out chaos.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.reliability.chaos import Config, chaos, summary  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of traffic and faults (default 10)")
    parser.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the users and the fault schedule (default 1)")
    parser.add_argument("--think", type=float, default=30.0, help="a user's mean seconds between requests")
    parser.add_argument("--fault-every", type=float, default=45.0, help="mean seconds between faults (default 45)")
    parser.add_argument("--drain", type=float, default=240.0, help="seconds the stragglers may take (default 240)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (logs, AOF) afterwards")
    parser.add_argument("--models", type=Path, help="tiny model cache to reuse (default: built in the run's dir)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = Config(
        minutes=args.minutes,
        users=args.users,
        seed=args.seed,
        think_seconds=args.think,
        fault_every=args.fault_every,
        drain_timeout=args.drain,
    )
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(chaos(config, args.keep, args.models or args.keep / "models"))
    else:
        with tempfile.TemporaryDirectory(prefix="molbert-chaos-") as tmp:
            result = asyncio.run(chaos(config, Path(tmp), args.models or Path(tmp) / "models"))
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(summary(result))
    return 0 if result["invariant_holds"] else 1


if __name__ == "__main__":
    sys.exit(main())
