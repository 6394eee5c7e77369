"""What a use case measures about its own call: when the chat event was received, and how long the platform's
rate limits held its replies. Context variables carry both, so no parameter is threaded through the use cases;
the log lines and metrics server they feed are in :mod:`core.telemetry`.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

_received: ContextVar[float | None] = ContextVar("molbert_received", default=None)
_rate_limit_waits: ContextVar[list[float] | None] = ContextVar("molbert_rate_limit_waits", default=None)
P = ParamSpec("P")
R = TypeVar("R")


def receives(use_case: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Mark a use case as where a chat event is *received* (the first stage of :class:`StageTimes`).

    The time is kept in a context variable for the duration of the call, so the job submitter (which runs in a
    thread that copies the context) stamps it on the job payload with no parameter threaded through.
    """

    @functools.wraps(use_case)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _received.set(time.time())
        try:
            return await use_case(*args, **kwargs)
        finally:
            _received.reset(token)

    return timed


@contextlib.contextmanager
def rate_limit_waits() -> Iterator[list[float]]:
    """Collect, for the calls made inside the block, the seconds they waited for the platform's rate limits
    (Telegram's pacing, a 429's ``retry_after``): the part of a delivery that is the platform's rule, not our cost."""
    waits: list[float] = []
    token = _rate_limit_waits.set(waits)
    try:
        yield waits
    finally:
        _rate_limit_waits.reset(token)


def waited_for_rate_limit(seconds: float) -> None:
    """Count ``seconds`` a platform call waited for a rate limit (inside :func:`rate_limit_waits`, else nothing)."""
    waits = _rate_limit_waits.get()
    if waits is not None and seconds > 0:
        waits.append(seconds)


def received_at() -> float | None:
    """When the chat event the current use case answers was received (``None`` outside one)."""
    return _received.get()
