"""Connecting to Redis from ``REDIS_URL``: a plain server, or a master found through Redis Sentinel.

redis-py understands ``redis://``, ``rediss://`` and ``unix://`` itself but has no URL form for Sentinel, so
this module reads one (the form Celery, Kombu and redis-sentinel-url users know)::

    redis+sentinel://[[user]:password@]host:26379[,host2:26379…]/<master name>[/<db>]
    rediss+sentinel://…   # TLS to the master (and the sentinels)

The password is the master's; the sentinels are asked without one unless ``?sentinel_password=`` is given.
Connections made through Sentinel follow a failover by themselves: on a connection error the next command
asks the sentinels for the current master (redis-py's ``SentinelConnectionPool``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: list[tuple[str, int]]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    ssl: bool = False

    def master_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for connections to the master."""
        return {"db": self.db, "username": self.username, "password": self.password, "ssl": self.ssl}

    def sentinel_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for connections to the sentinels themselves."""
        return {"password": self.sentinel_password, "ssl": self.ssl}


def is_sentinel_url(url: str) -> bool:
    """The URL names sentinels rather than a Redis server."""
    return url.startswith(SENTINEL_SCHEMES)


def parse_sentinel_url(url: str) -> SentinelURL:
    """Read a ``redis+sentinel://`` URL; raise ``ValueError`` (without the URL: it may hold a password)."""
    parts = urlsplit(url)
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = [_host_port(item) for item in hostlist.split(",") if item]
    path = [segment for segment in parts.path.split("/") if segment]
    if not sentinels:
        raise ValueError("a Sentinel URL needs at least one host:port")
    if not path or len(path) > 2:
        raise ValueError("a Sentinel URL's path is /<master name>[/<db>]")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError("the database in a Sentinel URL is a number")
    query = parse_qs(parts.query)
    return SentinelURL(
        sentinels=sentinels,
        master=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
        ssl=parts.scheme.startswith("rediss"),
    )


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
    if not port:
        return item, DEFAULT_SENTINEL_PORT
    if not port.isdigit():
        raise ValueError("a sentinel's port is a number")
    return host, int(port)


# A pooled connection can outlive the server it was made to (a Redis restart, a failover, a NAT that forgot it):
# a command on it fails once. Ping connections idle longer than this before using them, and retry a command that
# failed on a connection error on a fresh connection, so that a restart costs a reconnect, not a failed delivery
# that waits for its retry.
HEALTH_CHECK_SECONDS = 15
COMMAND_RETRIES = 3


def _resilience(retry_type: type) -> dict[str, Any]:
    """The keyword arguments that make a client reconnect by itself (``retry_type``: redis-py's sync or async Retry)."""
    return {
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "retry": retry_type(ExponentialBackoff(cap=1.0, base=0.05), COMMAND_RETRIES),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }


def connect(url: str) -> redis.Redis:
    """A synchronous client for ``url`` (RQ, the worker, the job submitter)."""
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **_resilience(Retry))
    spec = parse_sentinel_url(url)
    sentinel = redis.sentinel.Sentinel(spec.sentinels, sentinel_kwargs=spec.sentinel_kwargs())
    client: redis.Redis = sentinel.master_for(spec.master, **spec.master_kwargs(), **_resilience(Retry))
    return client


def connect_async(url: str) -> aioredis.Redis:
    """An asyncio client for ``url`` (the frontends' result listener)."""
    if not is_sentinel_url(url):
        return aioredis.Redis.from_url(url, **_resilience(AsyncRetry))
    spec = parse_sentinel_url(url)
    sentinel = aiosentinel.Sentinel(spec.sentinels, sentinel_kwargs=spec.sentinel_kwargs())
    client: aioredis.Redis = sentinel.master_for(spec.master, **spec.master_kwargs(), **_resilience(AsyncRetry))
    return client
