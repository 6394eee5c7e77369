"""Retrying Bot API calls that Telegram refused for now (429, 5xx) or that never reached it, without sending
anything twice.

aiogram raises on the first failure. This request middleware (``bot.session.middleware(TelegramRetry())``):

- **429 Too Many Requests**: waits the ``retry_after`` Telegram names and tries again (up to ``MAX_ATTEMPTS``
  tries; a wait longer than ``MAX_RETRY_AFTER`` is not waited out here but raised, so the result listener
  retries the delivery later instead of holding the call);
- **5xx**: Telegram answered that the call failed: tried again after 1, 2, 4 s;
- **network errors**: a connection that could not be opened (refused, DNS) carried no request, so any call is
  tried again; so is any call that does the same when repeated (edits, deletions, ``get*``, ``set*``, answers,
  chat actions). A call that *sends a message* and was cut off after it went out (timeout, dropped connection)
  may have been carried out: it is not repeated but raised as :class:`UncertainSend`, and the result listener
  counts that result as delivered (at most once; docs/reliability.md).

``getUpdates`` is left alone: aiogram's polling loop has its own back-off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates
from aiohttp import ClientConnectorError

from bot.results import DeliveryUncertain
from handlers.telemetry import waited_for_rate_limit

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER = 30
BACKOFF = (1.0, 2.0, 4.0)
# Calls that create something new each time they are made; everything else is safe to repeat.
NOT_REPEATABLE = ("send", "copy", "forward")
REPEATABLE = frozenset({"sendChatAction"})


class UncertainSend(TelegramNetworkError, DeliveryUncertain):
    """A message-sending call was cut off after it went out: Telegram may or may not have sent the message."""


def repeatable(method_name: str) -> bool:
    """Whether making the call twice has the same effect as once (``sendChatAction`` yes, ``sendPhoto`` no)."""
    return method_name in REPEATABLE or not method_name.startswith(NOT_REPEATABLE)


class TelegramRetry(BaseRequestMiddleware):
    """Retries Bot API calls as described in the module docstring."""

    def __init__(self, sleep=asyncio.sleep) -> None:
        self._sleep = sleep

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if name == GetUpdates.__api_method__:  # by name: an isinstance() check would lose the method's result type
            return await make_request(bot, method)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == MAX_ATTEMPTS or exc.retry_after > MAX_RETRY_AFTER:
                    raise
                delay = float(exc.retry_after)
                waited_for_rate_limit(delay)
                log.warning("%s: Telegram asks to wait %s s (try %d); waiting", name, exc.retry_after, attempt)
            except TelegramServerError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                delay = BACKOFF[attempt - 1]
                log.warning("%s: Telegram failed (%s, try %d); retrying in %.0f s", name, exc.message, attempt, delay)
            except TelegramNetworkError as exc:
                never_sent = isinstance(exc.__cause__, ClientConnectorError)
                if not (never_sent or repeatable(name)):
                    log.warning("%s was cut off after it went out (%s); not repeating it", name, exc.message)
                    raise UncertainSend(method=method, message=exc.message) from exc
                if attempt == MAX_ATTEMPTS:
                    raise
                delay = BACKOFF[attempt - 1]
                log.warning("%s: network error (%s, try %d); retrying in %.0f s", name, exc.message, attempt, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
