"""Presses of the buttons under a picture (U, V, 🔄) and under a "queued" message (✖): ``callback_data`` is the
neutral button action."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from bot.telegram.chat import is_admin_of, press_ref
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert
from handlers.texts import pick_language, t


async def press(callback: CallbackQuery, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Answer the press with a short notice at once, then run the button's action."""

    async def is_admin() -> bool:  # asked only when the chat's /settings let admins press others' buttons
        assert callback.message is not None  # the router's F.message filter
        return await is_admin_of(bot, callback.message.chat, callback.from_user)

    answered = []

    async def answer(notice: str) -> None:  # at once, before the paced sends: Telegram drops answers after ~15 s
        answered.append(notice)
        await callback.answer(notice)

    notice = await molbert.press(
        press_ref(callback), callback.data or "", callback.id, outbox, is_admin=is_admin, answer=answer
    )
    if not answered:  # the press ended before its notice was given (Redis away)
        await callback.answer(notice)


async def press_without_message(callback: CallbackQuery) -> None:
    """A press Telegram sent without its message (e.g. from an inline message): nothing to act on."""
    await callback.answer(t("button_stale", pick_language(callback.from_user.language_code)))


def router() -> Router:
    """The router of the buttons under pictures and "queued" messages.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.callback_query.register(press, F.message)
    feature.callback_query.register(press_without_message)
    return feature
