"""``/start``, ``/help``, ``/queue``, ``/cancel``, ``/stats``, ``/labels``, and a group becoming a supergroup."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Chat, Message, User

from bot.telegram.chat import chat_ref, group_ref, sent_as_the_chat, without_mention
from bot.telegram.outbox import TelegramOutbox
from handlers.service import Molbert

router = Router(name=__name__)


@router.message(F.migrate_to_chat_id)
async def group_became_a_supergroup(message: Message, molbert: Molbert) -> None:
    """Telegram upgraded this group to a supergroup with a new id: its settings, labels and buttons move along."""
    assert message.migrate_to_chat_id is not None  # F.migrate_to_chat_id
    await molbert.chat_moved(group_ref(message.chat.id), message.migrate_to_chat_id)


@router.message(CommandStart())
async def start(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Greet the user by name."""
    name = message.from_user.first_name if message.from_user else ""
    await molbert.start(chat_ref(message), outbox, name=name)


@router.message(Command("help"))
async def help_(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Show the help text with examples."""
    await molbert.help(chat_ref(message), outbox)


@router.message(Command("queue", "очередь", ignore_case=True))
async def queue(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """List the user's jobs in this chat."""
    await molbert.queue(chat_ref(message), outbox)


@router.message(Command("cancel", "отмена", ignore_case=True))
async def cancel(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Cancel the user's jobs in this chat."""
    await molbert.cancel(chat_ref(message), outbox)


@router.message(Command("stats", ignore_case=True))
async def stats(message: Message, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Operator figures (refused politely for everyone else)."""
    await molbert.stats(chat_ref(message), outbox)


@router.message(Command("labels", "метки", ignore_case=True))
async def labels(message: Message, command: CommandObject, bot: Bot, molbert: Molbert, outbox: TelegramOutbox) -> None:
    """Show or (chat admins) set this chat's label set for photos."""
    chosen = without_mention(command.args, await bot.me())
    await molbert.labels(chat_ref(message), chosen, await is_chat_admin(bot, message), outbox)


async def is_chat_admin(bot: Bot, message: Message) -> bool:
    """The sender administers this chat (in a private chat, or writing as the group itself: always), asked of
    Telegram with getChatMember."""
    return sent_as_the_chat(message) or await is_admin_of(bot, message.chat, message.from_user)


async def is_admin_of(bot: Bot, chat: Chat, user: User | None) -> bool:
    """``user`` administers ``chat`` (in a private chat: always), asked of Telegram with getChatMember."""
    if chat.type == ChatType.PRIVATE:
        return True
    if user is None:
        return False
    try:
        member = await bot.get_chat_member(chat.id, user.id)
    except TelegramAPIError:
        return False  # cannot tell: treat as a member (they may still look at the labels)
    return member.status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR)
