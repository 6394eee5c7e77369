"""Pacing outgoing Bot API calls to Telegram's limits, so that chats see no 429 in the first place.

Telegram asks bots to send at most about one message a second into one chat, twenty a minute into one group, and
thirty a second overall. This request middleware (``bot.session.middleware(TelegramPacing())``, registered after
:class:`bot.telegram.retry.TelegramRetry` so that each retry is paced too) makes calls wait for their turn:

- **messages** (``send*`` but ``sendChatAction``, ``copy*``, ``forward*``): one a second per chat (at most three in
  any three seconds, so a short burst goes out at once), then twenty a
  minute per group (a chat id below zero, or a ``@channel`` name), then thirty a second overall;
- **edits** (``edit*``): one a second per chat with no burst (sharing the chat's turns with messages) and the
  overall budget.
  An edit that is still waiting when a newer edit of the same message comes is replaced by it: both callers get
  the newer edit's answer (progress edits coalesce; the newest text, e.g. the final one, always goes out);
- everything else (``getUpdates``, ``answerCallbackQuery``, ``deleteMessage``…) is not paced.

Waits are per chat: a chat that is waiting for its turn never holds up another chat.

Each limit is a sliding window ("at most N in any T seconds"), the way Telegram states them. A leaky bucket such as
``aiolimiter.AsyncLimiter(20, 60)`` lets a full burst through and then keeps refilling, which admits up to 39
messages in one minute: too many for a group.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType

from handlers.telemetry import waited_for_rate_limit

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

MESSAGE_PREFIXES = ("send", "copy", "forward")
EDIT_PREFIX = "edit"
UNPACED = frozenset({"sendChatAction"})
IDLE_WINDOWS_KEPT = 10_000  # per-chat windows kept before idle ones are forgotten


@dataclass(frozen=True)
class Rate:
    """At most ``count`` calls in any ``seconds``."""

    count: int
    seconds: float


# One a second on average, with the "short bursts" Telegram tolerates: the "queued" notice, the picture a moment
# later and its full-size file go out at once instead of a second apart (that wait would be most of a fast job's
# time); a longer run of messages is held to one a second.
PER_CHAT = Rate(3, 3.0)
PER_EDIT = Rate(1, 1.0)  # edits (progress) get no burst: at most one a second after the chat's last call
PER_GROUP = Rate(20, 60.0)
OVERALL = Rate(30, 1.0)


class SlidingWindow:
    """Lets callers through, first come first served, so that for every rate at most ``rate.count`` of them went
    through in any ``rate.seconds``."""

    def __init__(
        self,
        rates: tuple[Rate, ...],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.rates = rates
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque(maxlen=max(rate.count for rate in rates))  # the latest passes
        self._lock = asyncio.Lock()  # fair: waiters go through in arrival order

    async def acquire(self, stricter: tuple[Rate, ...] = ()) -> None:
        """Wait until one more call keeps every rate (and the ``stricter`` ones this call adds), and count it."""
        async with self._lock:
            while (wait := self._wait(self._clock(), stricter)) > 0:
                await self._sleep(wait)
            self._times.append(self._clock())

    def _wait(self, now: float, stricter: tuple[Rate, ...] = ()) -> float:
        """How long until one more call keeps every rate (0: now)."""
        rates = (*self.rates, *stricter)
        waits = [self._times[-rate.count] + rate.seconds - now for rate in rates if len(self._times) >= rate.count]
        return max(waits, default=0.0)

    def idle(self) -> bool:
        """Nobody waits and a call now would not wait: forgetting the window changes nothing."""
        return not self._lock.locked() and self._wait(self._clock()) <= 0


class Windows:
    """One :class:`SlidingWindow` per chat, made on first use; idle ones are dropped when there are many."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._windows: dict[str, SlidingWindow] = {}

    def get(self, chat_id: int | str, rates: tuple[Rate, ...]) -> SlidingWindow:
        """The chat's window (made with ``rates`` if it is new)."""
        key = str(chat_id)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= IDLE_WINDOWS_KEPT:
                self._windows = {k: w for k, w in self._windows.items() if not w.idle()}
            window = self._windows[key] = SlidingWindow(rates, self._clock, self._sleep)
        return window


@dataclass
class _PendingEdit:
    """An edit waiting for its chat's turn; a newer edit of the same message replaces ``method``."""

    method: Any
    answer: asyncio.Future[Any]


class TelegramPacing(BaseRequestMiddleware):
    """Paces Bot API calls as described in the module docstring."""

    def __init__(
        self,
        per_chat: Rate = PER_CHAT,
        per_group: Rate = PER_GROUP,
        overall: Rate = OVERALL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._private_rates = (per_chat,)
        self._group_rates = (per_chat, per_group)
        self._chats = Windows(clock, sleep)
        self._overall = SlidingWindow((overall,), clock, sleep)
        self._edits: dict[tuple[str, Any], _PendingEdit] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        name = method.__api_method__
        chat_id = getattr(method, "chat_id", None)
        if chat_id is None or name in UNPACED:
            return await make_request(bot, method)
        if name.startswith(MESSAGE_PREFIXES):
            await self._turn(chat_id)
            return await make_request(bot, method)
        if name.startswith(EDIT_PREFIX):
            return await self._edit(make_request, bot, method, chat_id)
        return await make_request(bot, method)

    async def _turn(self, chat_id: int | str, stricter: tuple[Rate, ...] = ()) -> None:
        """Wait for the chat's turn (a group's keeps both its rates at once), then for the overall budget."""
        rates = self._group_rates if is_group(chat_id) else self._private_rates
        started = self._clock()
        await self._chats.get(chat_id, rates).acquire(stricter)
        await self._overall.acquire()
        waited_for_rate_limit(self._clock() - started)

    async def _edit(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: Any, chat_id: int | str
    ) -> Response[TelegramType]:
        """Wait for the chat's turn; an edit of the same message already waiting takes this one's text instead."""
        key = (str(chat_id), getattr(method, "message_id", None) or getattr(method, "inline_message_id", None))
        waiting = self._edits.get(key)
        if waiting is not None:
            waiting.method = method  # the newer edit goes out in the waiting one's turn
            try:
                return await asyncio.shield(waiting.answer)
            except asyncio.CancelledError:
                if not waiting.answer.cancelled() or _cancelling():
                    raise
            return await self._edit(make_request, bot, method, chat_id)  # the edit it rode on was cancelled
        pending = self._edits[key] = _PendingEdit(method, asyncio.get_running_loop().create_future())
        try:
            try:
                await self._turn(chat_id, (PER_EDIT,))
            finally:
                del self._edits[key]  # from here on, a newer edit waits for a turn of its own
            response = await make_request(bot, pending.method)
        except BaseException as exc:
            _settle(pending.answer, exception=exc)
            raise
        _settle(pending.answer, result=response)
        return response


def _cancelling() -> bool:
    """Whether the running task itself is being cancelled (not only the edit it waited on)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def is_group(chat_id: int | str) -> bool:
    """Groups, supergroups and channels have negative ids (or an ``@username``); private chats positive ones."""
    try:
        return int(chat_id) < 0
    except ValueError:
        return True


def _settle(answer: asyncio.Future[Any], *, result: Any = None, exception: BaseException | None = None) -> None:
    """Hand the outcome to the edits this one replaced (if any wait for it)."""
    if answer.done():
        return
    if isinstance(exception, asyncio.CancelledError):
        answer.cancel()
    elif exception is not None:
        answer.set_exception(exception)
        answer.exception()  # retrieved here: an outcome nobody waits for raises no "never retrieved" warning
    else:
        answer.set_result(result)
