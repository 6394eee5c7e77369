"""Fair use: per-user and per-chat limits and a bound on the queue, checked before anything is queued.

Fairness across users comes from admission control: nobody may have more than ``concurrent_per_user`` requests
waiting or running, so one user's burst can delay another user's job by at most that many requests per user. A
request is one job, or the jobs of one user action (an album's photos, at most ten).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.protocol import ChatRef


@dataclass(frozen=True)
class LimitPolicy:
    """The limits; 0 switches one off."""

    concurrent_per_user: int = 2
    per_user_per_minute: int = 6
    per_user_per_day: int = 200
    per_chat_per_minute: int = 20
    max_queue_length: int = 100
    job_lifetime: int = 1800  # a slot whose job never reported back is freed after this many seconds


class RequestRefused(Exception):
    """A later job of a request whose first job was refused: the user was told why once, and is not told again."""


class Admission(Protocol):
    """Reserving a slot for a job before it is queued, and giving it back if it was not."""

    async def admit(self, chat: ChatRef, job_id: str, queue: str, request_id: str | None = None) -> None:
        """Reserve a slot for ``job_id``; raise :class:`handlers.errors.UserError` when a limit says no.

        ``request_id`` names one user action that makes several jobs (an album's photos): it counts once against
        the limits. Its first job decides; the later ones join it, or raise :class:`RequestRefused`.
        """
        ...

    async def release(self, chat: ChatRef, job_id: str) -> None:
        """Give the slot back (the job was not queued after all)."""
        ...
