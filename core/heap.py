"""Setting start-up's objects aside from the garbage collector, in the bot and in the workers.

Both processes import large libraries whose modules, classes and schemas live as long as the process (≈ 200 000
objects in the bot; torch, diffusers and transformers in a worker). Python's full collections walk all of them
to find the few new objects that are garbage, with everything else in the process stopped: 100–260 ms in the
bot in the middle of a 50-user burst, 280 ms in a tiny-preset worker serving jobs (1 ms once set aside;
``docs/benchmarks.md``).
"""

from __future__ import annotations

import gc


def settle_startup_heap() -> int:
    """Collect once, then move every object alive now out of the collector's sight (``gc.freeze()``); return
    how many. Call it when start-up is over, just before serving."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
