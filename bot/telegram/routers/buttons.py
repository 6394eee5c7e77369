"""Presses of the buttons under a picture (U, V, 🔄) and under a "queued" message (✖): ``callback_data`` is the
neutral button action."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, ForceReply, MessageEntity, ReplyParameters

from bot.telegram.chat import is_admin_of, press_ref
from bot.telegram.outbox import TelegramOutbox
from handlers.buttons import REMIX
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


async def remix_press(callback: CallbackQuery, bot: Bot, molbert: Molbert) -> None:
    """🖋: ask the requester what to change, in a message they reply to (ForceReply, shown to them only) that holds
    the current ``/imagine`` line as code (a tap copies it); their reply remixes the picture."""
    chat = press_ref(callback)
    form = await molbert.remix_form(chat, callback.data or "")
    if isinstance(form, str):
        await callback.answer(form)
        return
    await callback.answer(t("remix_prompt_sent", chat.lang))
    text = t("remix_prompt", chat.lang, command=form.command)
    start = len(text.encode("utf-16-le")) // 2 - len(form.command.encode("utf-16-le")) // 2  # Telegram counts UTF-16
    asked = form.asked
    sent = await bot.send_message(
        chat_id=chat.chat_id,
        text=text,
        entities=[MessageEntity(type="code", offset=start, length=len(form.command.encode("utf-16-le")) // 2)],
        message_thread_id=None if chat.thread_id is None else int(chat.thread_id),
        reply_parameters=ReplyParameters(
            message_id=int(asked.message_id if asked.message_id is not None else chat.message_id or 0),
            allow_sending_without_reply=True,
        ),
        reply_markup=ForceReply(force_reply=True, selective=True, input_field_placeholder=form.description[:64]),
    )
    await molbert.remix_asked(chat, sent.message_id, form.job_id)


async def press_without_message(callback: CallbackQuery) -> None:
    """A press Telegram sent without its message (e.g. from an inline message): nothing to act on."""
    await callback.answer(t("button_stale", pick_language(callback.from_user.language_code)))


def router() -> Router:
    """The router of the buttons under pictures and "queued" messages.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.callback_query.register(remix_press, F.message, F.data.startswith(f"{REMIX}:"))
    feature.callback_query.register(press, F.message)
    feature.callback_query.register(press_without_message)
    return feature
