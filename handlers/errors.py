"""The one exception handlers raise for bad input: it carries a texts.py key, not a sentence."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Input we refuse, with the key of the friendly text that explains why and the values it needs."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values: dict[str, Any] = values  # formatted into the text, passed on as keyword arguments


class QueueUnavailable(Exception):
    """The job queue (Redis) cannot be reached; the user is asked to try again shortly."""


class FeedbackUnavailable(Exception):
    """The feedback database cannot be reached for something that must not be buffered (``/forget``)."""


class ClassesUnavailable(UserError):
    """The database that keeps the chats' taught classes (``/teach``) cannot be reached: the user is told so
    (``classes_unavailable``) and may try again; everything else keeps working."""

    def __init__(self, reason: str = "") -> None:
        super().__init__("classes_unavailable")
        self.reason = reason  # the error's type, for the log: its text may name the server
