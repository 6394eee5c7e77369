"""Fair use: per-user and per-chat limits and a bound on the queue, checked before anything is queued (through the
:class:`handlers.ports.Admission` port, which ``bot.limits.RedisAdmission`` implements).

Fairness across users comes from admission control: nobody may have more than ``concurrent_per_user`` requests
waiting or running, so one user's burst can delay another user's job by at most that many requests per user. A
request is one job, or the jobs of one user action (an album's photos, at most ten).
"""

from __future__ import annotations

from dataclasses import dataclass


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
