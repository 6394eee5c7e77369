"""Counting failed Discord REST calls for ``/metrics``, from aiohttp's request tracing.

discord.py waits out 429s by itself and raises nothing for them, so they are counted where they are seen: each
HTTP answer of discord.py's session (``discord.Client(http_trace=...)``), retries included.
"""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from bot.monitoring import count_api_error

PLATFORM = "discord"


def reason_of(status: int) -> str | None:
    """The ``reason`` label of an HTTP answer: the status of a 4xx, ``"5xx"``, or ``None`` for a success."""
    if status >= 500:
        return "5xx"
    return str(status) if status >= 400 else None


async def _on_request_end(_session: aiohttp.ClientSession, _context: SimpleNamespace, params) -> None:
    reason = reason_of(params.response.status)
    if reason is not None:
        count_api_error(PLATFORM, reason)


async def _on_request_exception(_session: aiohttp.ClientSession, _context: SimpleNamespace, _params) -> None:
    count_api_error(PLATFORM, "network")


def api_trace() -> aiohttp.TraceConfig:
    """A trace config that counts Discord's 4xx/5xx answers and failed connections."""
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    trace.on_request_exception.append(_on_request_exception)
    return trace
