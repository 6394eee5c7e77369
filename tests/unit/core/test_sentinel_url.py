"""Redis Sentinel in ``REDIS_URL``: the URL names the sentinels, the master and the database, and a malformed one
is a one-line configuration error without the password (the real servers are in tests/e2e/test_sentinel.py)."""

from __future__ import annotations

import pytest

from core.config import ConfigError, RedisSettings, load
from core.connection import parse_sentinel_url


def test_a_sentinel_url_names_every_sentinel_the_master_and_the_db():
    spec = parse_sentinel_url("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,sentinel-c:26380/molbert/2")
    assert spec.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("sentinel-c", 26380)]
    assert (spec.master, spec.db, spec.password, spec.username, spec.ssl) == ("molbert", 2, "s3cret", None, False)


def test_tls_user_and_sentinel_password():
    spec = parse_sentinel_url("rediss+sentinel://bot:pa%40ss@s1:26379/mymaster?sentinel_password=other")
    assert (spec.username, spec.password, spec.sentinel_password, spec.ssl, spec.db) == (
        "bot",
        "pa@ss",
        "other",
        True,
        0,
    )
    assert "pa@ss" not in repr(spec)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://:hunter2@s1:26379/", "master name"),
        ("redis+sentinel://:hunter2@/molbert", "host:port"),
        ("redis+sentinel://:hunter2@s1:port/molbert", "port is a number"),
        ("redis+sentinel://:hunter2@s1/molbert/zero", "database"),
    ],
)
def test_a_malformed_sentinel_url_is_a_one_line_config_error_without_the_password(monkeypatch, url, problem):
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ConfigError) as caught:
        load(RedisSettings)
    assert problem in str(caught.value)
    assert "REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_sentinel_url_is_accepted_as_redis_url(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://s1:26379,s2:26379/molbert/0")
    assert load(RedisSettings).url.get_secret_value().startswith("redis+sentinel://")
