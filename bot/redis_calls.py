"""Redis calls from the frontends' use-case adapters, run off the event loop, failing one documented way.

Every adapter behind a ``handlers`` port (jobs, limits, chat settings) calls Redis through :func:`in_thread`, so a
stopped or unreachable Redis reaches the use cases as :class:`QueueUnavailable` — which they answer with the
"queue unavailable" text — and never as a raw ``redis`` error that would end the update in silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis

from handlers.errors import QueueUnavailable

P = ParamSpec("P")
R = TypeVar("R")


async def in_thread(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``call(*args, **kwargs)`` in a worker thread; any Redis error is raised as :class:`QueueUnavailable`."""
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except redis.RedisError as exc:
        raise QueueUnavailable(type(exc).__name__) from exc
