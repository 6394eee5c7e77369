"""Holding aiogram's Bot API answer classes, so each is built once rather than after every garbage collection.

aiogram reads every answer with ``Response[method.__returning__]``, a parametrized pydantic generic. pydantic
caches those in a ``WeakValueDictionary``: once the last answer of a kind is gone, a garbage collection frees
``Response[Message]`` and the next call builds the class again — 1 to 15 ms of schema building on the event
loop, during which nothing else in the bot moves. In a 50-user burst (``bench/overhead.py``) the bot rebuilt
``Response[Message]`` 21 times. This request middleware keeps one strong reference per method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import TelegramMethod
    from aiogram.methods.base import TelegramType


class KeepResponseModels(BaseRequestMiddleware):
    """Holds ``Response[…]`` for each Bot API method the bot has called (a few dozen classes at most)."""

    def __init__(self) -> None:
        self._models: dict[type, type] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        kind = type(method)
        if kind not in self._models:
            # a pydantic generic parametrised at run time, by the method's own return type
            self._models[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
