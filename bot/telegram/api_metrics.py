"""Counting failed Bot API calls for ``/metrics``: every attempt, including those the retry middleware repeats.

Registered after :class:`bot.telegram.retry.TelegramRetry` (aiogram runs the first registered middleware
outermost), so it sits next to the HTTP call and sees each 429 and error before the retry logic decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.monitoring import count_api_error

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

PLATFORM = "telegram"
# aiogram's exceptions → the reason label: the HTTP status Telegram answered, "5xx", or "network"
_REASONS: tuple[tuple[type[TelegramAPIError], str], ...] = (
    (TelegramRetryAfter, "429"),
    (TelegramBadRequest, "400"),
    (TelegramUnauthorizedError, "401"),
    (TelegramForbiddenError, "403"),
    (TelegramNotFound, "404"),
    (TelegramConflictError, "409"),
    (TelegramEntityTooLarge, "413"),
    (TelegramServerError, "5xx"),
    (TelegramNetworkError, "network"),
)


def reason_of(exc: TelegramAPIError) -> str:
    """The ``reason`` label of a failed call."""
    return next((reason for kind, reason in _REASONS if isinstance(exc, kind)), "other")


class TelegramApiMetrics(BaseRequestMiddleware):
    """Counts each failed Bot API call in ``molbert_chat_api_errors`` (and 429s in ``…_rate_limited``)."""

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramAPIError as exc:
            count_api_error(PLATFORM, reason_of(exc))
            raise
