"""Who may use the bot: operator allow/deny lists of users and chats, and the operators themselves."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.protocol import ChatRef


def parse_ids(value: str) -> frozenset[str]:
    """``"123, telegram:456"`` → ids as strings; an entry may name its platform (``discord:…``) or not."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _matches(ids: frozenset[str], platform: str, value: int | str) -> bool:
    return str(value) in ids or f"{platform}:{value}" in ids


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
        allow lists) an allowed user or in an allowed chat."""
        user, room = (chat.platform, chat.user_id), (chat.platform, chat.chat_id)
        if _matches(self.deny_users, *user) or _matches(self.deny_chats, *room):
            return False
        if not (self.allow_users or self.allow_chats):
            return True
        return _matches(self.allow_users, *user) or _matches(self.allow_chats, *room)

    def is_operator(self, chat: ChatRef) -> bool:
        """Whether ``chat.user_id`` runs this bot (may see ``/stats``)."""
        return _matches(self.operators, chat.platform, chat.user_id)
