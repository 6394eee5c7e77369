"""The Redis side of ``handlers.limits``: one atomic script checks every limit and reserves the slot."""

from __future__ import annotations

import asyncio
import time

import redis

from handlers.errors import UserError
from handlers.limits import LimitPolicy, active_key
from handlers.protocol import ChatRef

# KEYS: active set, user's minute window, user's day counter, chat's minute window, RQ queue list
# ARGV: now, job id, concurrent, per-minute, per-day, chat per-minute, max queue, job lifetime, seconds to midnight
# Returns {verdict, value, retry_after}: verdict "ok" or the name of the limit that refused.
_ADMIT = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 60)
local function oldest(key) return tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
local concurrent, minute, day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local chat_minute, max_queue = tonumber(ARGV[6]), tonumber(ARGV[7])
if concurrent > 0 and redis.call('ZCARD', KEYS[1]) >= concurrent then
  return {'concurrent', concurrent, 0}
end
if minute > 0 and redis.call('ZCARD', KEYS[2]) >= minute then
  return {'rate', minute, math.ceil(oldest(KEYS[2]) + 60 - now)}
end
if day > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= day then
  return {'daily', day, tonumber(ARGV[9])}
end
if chat_minute > 0 and redis.call('ZCARD', KEYS[4]) >= chat_minute then
  return {'chat', chat_minute, math.ceil(oldest(KEYS[4]) + 60 - now)}
end
local waiting = redis.call('LLEN', KEYS[5])
if max_queue > 0 and waiting >= max_queue then
  return {'queue', waiting, 0}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[8]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[8]))
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('EXPIRE', KEYS[2], 60)
redis.call('ZADD', KEYS[4], now, ARGV[2])
redis.call('EXPIRE', KEYS[4], 60)
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[9]))
return {'ok', 0, 0}
"""


class RedisAdmission:
    """Implements :class:`handlers.limits.Admission` for all frontends sharing one Redis."""

    def __init__(self, connection: redis.Redis, policy: LimitPolicy | None = None) -> None:
        self.connection = connection
        self.policy = policy or LimitPolicy()
        self._script = connection.register_script(_ADMIT)

    async def admit(self, chat: ChatRef, job_id: str, queue: str) -> None:
        """Check every limit and reserve a slot in one step, or raise a ``UserError`` saying which limit."""
        verdict, value, retry_after = await asyncio.to_thread(self._run, chat, job_id, queue)
        verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
        if verdict == "ok":
            return
        raise _refusal(verdict, int(value), int(retry_after))

    async def release(self, chat: ChatRef, job_id: str) -> None:
        """Free the slot of a job that was not queued."""
        await asyncio.to_thread(self.connection.zrem, active_key(chat.platform, chat.user_id), job_id)

    def _run(self, chat: ChatRef, job_id: str, queue: str) -> list:
        now = time.time()
        policy = self.policy
        user = f"{chat.platform}:{chat.user_id}"
        keys = [
            active_key(chat.platform, chat.user_id),
            f"molbert:rate:{user}",
            f"molbert:daily:{user}:{time.strftime('%Y-%m-%d', time.gmtime(now))}",
            f"molbert:chat-rate:{chat.platform}:{chat.chat_id}",
            f"rq:queue:{queue}",
        ]
        args = [
            now,
            job_id,
            policy.concurrent_per_user,
            policy.per_user_per_minute,
            policy.per_user_per_day,
            policy.per_chat_per_minute,
            policy.max_queue_length,
            policy.job_lifetime,
            _seconds_to_utc_midnight(now),
        ]
        return self._script(keys=keys, args=args)


def _seconds_to_utc_midnight(now: float) -> int:
    return 86400 - int(now) % 86400


def _refusal(verdict: str, value: int, retry_after: int) -> UserError:
    if verdict == "concurrent":
        return UserError("limit_concurrent", count=value)
    if verdict == "rate":
        return UserError("limit_rate", limit=value, seconds=max(1, retry_after))
    if verdict == "daily":
        return UserError("limit_daily", limit=value, hours=max(1, round(retry_after / 3600)))
    if verdict == "chat":
        return UserError("limit_chat", seconds=max(1, retry_after))
    return UserError("queue_full", length=value)
