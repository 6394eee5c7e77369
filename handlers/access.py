"""Who may use the bot: operator allow/deny lists of users and chats, and the operators themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.protocol import ChatRef


def parse_ids(value: str) -> frozenset[str]:
    """``"123, telegram:456"`` → ids as strings; an entry may name its platform (``discord:…``) or not."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _matches(ids: frozenset[str], platform: str, value: int | str) -> bool:
    return str(value) in ids or f"{platform}:{value}" in ids


def _matches_room(ids: frozenset[str], chat: ChatRef) -> bool:
    """The chat, or anything it is part of (a thread's channel, a server), is in ``ids``."""
    return any(_matches(ids, chat.platform, room) for room in (chat.chat_id, *chat.parent_ids))


@dataclass(frozen=True)
class AccessPolicy:
    """Empty allow lists allow everyone; a deny list always wins."""

    allow_users: frozenset[str] = field(default_factory=frozenset)
    deny_users: frozenset[str] = field(default_factory=frozenset)
    allow_chats: frozenset[str] = field(default_factory=frozenset)
    deny_chats: frozenset[str] = field(default_factory=frozenset)
    operators: frozenset[str] = field(default_factory=frozenset)

    def allows(self, chat: ChatRef) -> bool:
        """Whether ``chat.user_id`` in ``chat.chat_id`` may have work done: not denied, and (when there are
        allow lists) an allowed user or in an allowed chat. A chat list names a chat, or what it is part of
        (``chat.parent_ids``: a Discord thread's channel, a server), and then covers all of it."""
        user = (chat.platform, chat.user_id)
        if _matches(self.deny_users, *user) or _matches_room(self.deny_chats, chat):
            return False
        if not (self.allow_users or self.allow_chats):
            return True
        return _matches(self.allow_users, *user) or _matches_room(self.allow_chats, chat)

    def is_operator(self, chat: ChatRef) -> bool:
        """Whether ``chat.user_id`` runs this bot (may see ``/stats``)."""
        return _matches(self.operators, chat.platform, chat.user_id)
