"""The Redis side of ``handlers.limits``: one atomic script checks every limit and reserves the slot."""

from __future__ import annotations

import time

import redis
from rq.job import Job

from bot.redis_calls import in_thread
from core.keys import active_key, chat_rate_key, daily_key, rate_key, request_admitted_key
from core.protocol import ChatRef
from handlers.errors import UserError
from handlers.limits import LimitPolicy, RequestRefused

# KEYS: active set, user's minute window, user's day counter, chat's minute window, RQ queue list, request verdict,
#       the job's RQ hash
# ARGV: now, job id, concurrent, per-minute, per-day, chat per-minute, max queue, job lifetime, seconds to midnight,
#       "1" when the job is part of a request of several jobs (else "0")
# Returns {verdict, value, retry_after}: verdict "ok", the name of the limit that refused, or "told" (a later job of
# a request that was refused: the user heard why already).
_ADMIT = """
local now, job, lifetime = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[8])
local in_request = ARGV[10] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 60)
local function oldest(key) return tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
local function hold_slot()
  redis.call('ZADD', KEYS[1], now + lifetime, job)
  redis.call('EXPIRE', KEYS[1], lifetime)
end
local function decide(verdict)
  if in_request then redis.call('SET', KEYS[6], verdict, 'EX', lifetime) end
end
local function queue_full()
  local waiting, max_queue = redis.call('LLEN', KEYS[5]), tonumber(ARGV[7])
  if max_queue > 0 and waiting >= max_queue then return waiting end
end
local function refused()
  local concurrent, minute, day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local chat_minute = tonumber(ARGV[6])
  if concurrent > 0 and redis.call('ZCARD', KEYS[1]) >= concurrent then return {'concurrent', concurrent, 0} end
  if minute > 0 and redis.call('ZCARD', KEYS[2]) >= minute then
    return {'rate', minute, math.ceil(oldest(KEYS[2]) + 60 - now)}
  end
  if day > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= day then return {'daily', day, tonumber(ARGV[9])} end
  if chat_minute > 0 and redis.call('ZCARD', KEYS[4]) >= chat_minute then
    return {'chat', chat_minute, math.ceil(oldest(KEYS[4]) + 60 - now)}
  end
  local waiting = queue_full()
  if waiting then return {'queue', waiting, 0} end
end

if redis.call('EXISTS', KEYS[7]) == 1 then  -- a re-delivered event: the enqueue will find its job; reserve nothing
  return {'ok', 0, 0}
end
local earlier = in_request and redis.call('GET', KEYS[6])
if earlier == 'ok' then  -- a later job of an admitted request joins it: only the queue's bound still applies
  local waiting = queue_full()
  if waiting then
    decide('queue')
    return {'queue', waiting, 0}
  end
  hold_slot()
  return {'ok', 0, 0}
elseif earlier then
  return {'told', 0, 0}
end
local refusal = refused()
if refusal then
  decide(refusal[1])
  return refusal
end
hold_slot()
redis.call('ZADD', KEYS[2], now, job)
redis.call('EXPIRE', KEYS[2], 60)
redis.call('ZADD', KEYS[4], now, job)
redis.call('EXPIRE', KEYS[4], 60)
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[9]))
decide('ok')
return {'ok', 0, 0}
"""


class RedisAdmission:
    """Implements :class:`handlers.limits.Admission` for all frontends sharing one Redis."""

    def __init__(self, connection: redis.Redis, policy: LimitPolicy | None = None) -> None:
        self.connection = connection
        self.policy = policy or LimitPolicy()
        self._script = connection.register_script(_ADMIT)

    async def admit(self, chat: ChatRef, job_id: str, queue: str, request_id: str | None = None) -> None:
        """Check every limit and reserve a slot in one step, or raise a ``UserError`` saying which limit.

        Jobs sharing a ``request_id`` (an album's photos) count as one request: the first is checked, and the
        others join it (each holding a slot until its result) or are refused with :class:`RequestRefused`. A job
        that exists already (a re-delivered chat event) passes without reserving anything: queueing it will find
        the duplicate, and no result would ever free a slot taken for it.
        """
        verdict, value, retry_after = await in_thread(self._run, chat, job_id, queue, request_id)
        verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
        if verdict == "ok":
            return
        if verdict == "told":
            raise RequestRefused(request_id)
        raise _refusal(verdict, int(value), int(retry_after))

    async def release(self, chat: ChatRef, job_id: str) -> None:
        """Free the slot of a job that was not queued."""
        await in_thread(self.connection.zrem, active_key(chat.platform, chat.user_id), job_id)

    def _run(self, chat: ChatRef, job_id: str, queue: str, request_id: str | None) -> list:
        now = time.time()
        policy = self.policy
        keys = [
            active_key(chat.platform, chat.user_id),
            rate_key(chat.platform, chat.user_id),
            daily_key(chat.platform, chat.user_id, now),
            chat_rate_key(chat),
            f"rq:queue:{queue}",
            request_admitted_key(request_id),
            Job.key_for(job_id),
        ]
        args: list[str | int | float] = [
            now,
            job_id,
            policy.concurrent_per_user,
            policy.per_user_per_minute,
            policy.per_user_per_day,
            policy.per_chat_per_minute,
            policy.max_queue_length,
            policy.job_lifetime,
            _seconds_to_utc_midnight(now),
            "1" if request_id else "0",
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
