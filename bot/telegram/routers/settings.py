"""``/settings`` (``/настройки``): the chat's settings for its admins, as an inline keyboard edited in place.

Whether the sender (and, on every press, the presser) administers the chat is asked of Telegram with
``getChatMember``; everyone else gets a polite refusal and nothing changes.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.telegram.chat import chat_ref, is_admin_of, is_chat_admin, is_private, press_ref
from bot.telegram.outbox import inline_keyboard
from handlers.chat_settings import ALL_FIELDS, PRIVATE_FIELDS, Menu, is_menu_action
from handlers.service import Molbert

log = logging.getLogger(__name__)


async def settings(message: Message, bot: Bot, molbert: Molbert) -> None:
    """Answer with the settings menu (admins) or a refusal (everyone else), as a reply in the same topic."""
    shown = PRIVATE_FIELDS if is_private(message) else ALL_FIELDS
    menu = await molbert.settings(chat_ref(message), await is_chat_admin(bot, message), shown)
    await message.reply(menu.text, reply_markup=inline_keyboard(menu.buttons))


async def press(callback: CallbackQuery, menu_message: Message, bot: Bot, molbert: Molbert) -> None:
    """Change a setting (or open a field's choices) and redraw the menu in place; answer with a short notice."""
    admin = await is_admin_of(bot, menu_message.chat, callback.from_user)
    shown = PRIVATE_FIELDS if is_private(menu_message) else ALL_FIELDS
    notice, menu = await molbert.settings_press(press_ref(callback), callback.data or "", admin, shown)
    if menu is not None and isinstance(menu_message, Message):
        await _redraw(menu_message, menu)
    await callback.answer(notice or None)


async def _redraw(message: Message, menu: Menu) -> None:
    try:
        await message.edit_text(menu.text, reply_markup=inline_keyboard(menu.buttons))
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            log.info("could not redraw the settings menu %s in chat %s: %s", message.message_id, message.chat.id, exc)


def router() -> Router:
    """The router of ``/settings`` and the presses in its menu.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(settings, Command("settings", "настройки", ignore_case=True))
    feature.callback_query.register(press, F.data.func(is_menu_action), F.message.as_("menu_message"))
    return feature
