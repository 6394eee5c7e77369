"""``/start``, ``/help``, ``/queue``, ``/cancel``, ``/stats``, ``/labels``, and a group becoming a supergroup."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bot.telegram.chat import chat_ref, group_ref, is_chat_admin, without_mention
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert


async def group_became_a_supergroup(message: Message, molbert: Molbert) -> None:
    """Telegram upgraded this group to a supergroup with a new id: its settings, labels and buttons move along."""
    assert message.migrate_to_chat_id is not None  # F.migrate_to_chat_id
    await molbert.chat_moved(group_ref(message.chat.id), message.migrate_to_chat_id)


async def start(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Greet the user by name."""
    name = message.from_user.first_name if message.from_user else ""
    await molbert.start(chat_ref(message), outbox, name=name)


async def help_(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Show the help text with examples."""
    await molbert.help(chat_ref(message), outbox)


async def queue(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """List the user's jobs in this chat."""
    await molbert.queue(chat_ref(message), outbox)


async def cancel(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Cancel the user's jobs in this chat."""
    await molbert.cancel(chat_ref(message), outbox)


async def stats(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Operator figures (refused politely for everyone else)."""
    await molbert.stats(chat_ref(message), outbox)


async def labels(message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Show or (chat admins) set this chat's label set for photos."""
    chosen = without_mention(command.args, await bot.me())
    await molbert.labels(chat_ref(message), chosen, await is_chat_admin(bot, message), outbox)


async def forget(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """``/forget`` (``/забудь_меня``): delete the user's feedback records on Telegram."""
    await molbert.forget(chat_ref(message), outbox)


def router() -> Router:
    """The router of ``/start``, ``/help``, ``/queue``, ``/cancel``, ``/stats``, ``/labels`` and the supergroup upgrade.

    A new one each call: aiogram attaches a router to one dispatcher only."""
    feature = Router(name=__name__)
    feature.message.register(group_became_a_supergroup, F.migrate_to_chat_id)
    feature.message.register(start, CommandStart())
    feature.message.register(help_, Command("help"))
    feature.message.register(queue, Command("queue", "очередь", ignore_case=True))
    feature.message.register(cancel, Command("cancel", "отмена", ignore_case=True))
    feature.message.register(stats, Command("stats", ignore_case=True))
    feature.message.register(labels, Command("labels", "метки", ignore_case=True))
    feature.message.register(forget, Command("forget", "забудь_меня", ignore_case=True))
    return feature
