"""Following a group that Telegram upgraded to a supergroup: the old chat id stops taking messages.

A call into the old chat fails with 400 "group chat was upgraded to a supergroup chat" and the new id in
``parameters.migrate_to_chat_id`` (aiogram's :class:`TelegramMigrateToChat`). This request middleware
(``bot.session.middleware(FollowChatMigration(...))``) makes the call again in the new chat, so a result in flight
reaches the group where it now lives, and reports the move once per process so that the chat's settings, labels
and buttons go along (``Molbert.chat_moved``). The service message Telegram posts about the upgrade reports it
too (``routers.basics``), usually first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramMigrateToChat

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

ChatMoved = Callable[[int, int], Awaitable[object]]


class FollowChatMigration(BaseRequestMiddleware):
    """Repeats a call refused because its chat moved, in the new chat; tells ``on_moved(old id, new id)`` once."""

    def __init__(self, on_moved: ChatMoved) -> None:
        self.on_moved = on_moved
        self._moved: dict[int, int] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramMigrateToChat as exc:
            old = getattr(method, "chat_id", None)
            if not isinstance(old, int):
                raise
            new = exc.migrate_to_chat_id
            log.info("%s: chat %s became supergroup %s; sending it there", method.__api_method__, old, new)
            if self._moved.get(old) != new:
                self._moved[old] = new
                try:
                    await self.on_moved(old, new)
                except Exception:  # the message still goes out; the settings can follow on the service message
                    log.exception("could not move the settings of chat %s to %s", old, new)
            return await make_request(bot, method.model_copy(update={"chat_id": new}))
