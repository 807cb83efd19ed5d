"""RedisCache specifics: key layout, JSON on the wire, SCAN, clients, the optional dependency."""

from __future__ import annotations

import json
import sys
import time

import pytest

from jitlite.cache import RedisCache


def test_values_are_json_under_the_namespace_prefix(redis_cache: RedisCache) -> None:
    client, ns = redis_cache.client, redis_cache.namespace
    redis_cache.set("token", {"a": "中文"}, ttl=10)
    redis_cache.incr("n", 5)
    stored = client.get(f"{ns}:token")
    assert stored is not None and json.loads(stored) == {"a": "中文"}
    assert client.get(f"{ns}:n") == b"5"
    assert 9_000 < client.pttl(f"{ns}:token") <= 10_000
    assert client.pttl(f"{ns}:n") == -1


def test_lock_key_layout_and_ttl(redis_cache: RedisCache) -> None:
    client, ns = redis_cache.client, redis_cache.namespace
    with redis_cache.lock("job", 5) as lock:
        assert client.get(f"{ns}@lock:job") == lock.token.encode()  # type: ignore[union-attr]
        assert 4_000 < client.pttl(f"{ns}@lock:job") <= 5_000
        assert client.exists(f"{ns}:job") == 0
    assert client.exists(f"{ns}@lock:job") == 0


def test_sub_millisecond_ttls_round_up_not_down(redis_cache: RedisCache) -> None:
    # PX 0 is a Redis error, so a TTL below 1 ms must become 1 ms, not 0.
    assert redis_cache.set("k", 1, ttl=0.0001) is True
    redis_cache.set("m", 1)
    assert redis_cache.expire("m", 0.0001) is True
    time.sleep(0.01)
    assert redis_cache.exists("k") is False
    assert redis_cache.exists("m") is False


def test_keys_uses_scan_across_many_pages(redis_cache: RedisCache, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("KEYS blocks the server; keys() must use SCAN")

    monkeypatch.setattr(redis_cache.client, "keys", forbidden)
    with redis_cache.client.pipeline(transaction=False) as pipe:
        for i in range(2500):
            pipe.set(f"{redis_cache.namespace}:k{i}", "1")
        pipe.execute()
    names = redis_cache.keys()
    assert len(names) == 2500
    assert names == sorted(f"k{i}" for i in range(2500))
    assert redis_cache.keys("k24??") == sorted(f"k24{i:02d}" for i in range(100))
    assert redis_cache.keys("k1*9") == sorted(n for n in names if n.startswith("k1") and n.endswith("9"))


def test_incr_on_foreign_non_integer_raises_type_error(redis_cache: RedisCache) -> None:
    redis_cache.client.set(f"{redis_cache.namespace}:raw", "not json")
    with pytest.raises(TypeError, match="not a 64-bit integer"):
        redis_cache.incr("raw")
    with pytest.raises(ValueError, match="not valid JSON"):
        redis_cache.get("raw")


def test_existing_client_with_decoded_responses(redis_cache: RedisCache) -> None:
    import redis

    url = redis_cache.client.connection_pool.connection_kwargs
    client = redis.Redis(host=url["host"], port=url["port"], db=url.get("db", 0), decode_responses=True)
    cache = RedisCache(client, redis_cache.namespace)
    cache.set("k", ["x"])
    assert cache.get("k") == ["x"]
    assert cache.keys() == ["k"]
    with cache.lock("job", 5):
        pass
    cache.close()
    assert client.ping() is True  # close() leaves a client it did not create open
    client.close()


def test_missing_redis_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs without a server: the import fails before any connection is attempted.
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"install jitlite\[redis\]"):
        RedisCache("redis://localhost:6379/0", "app")


def test_ping_is_false_when_redis_does_not_answer(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    cache = RedisCache("redis://127.0.0.1:1/0?socket_connect_timeout=1", "t-noredis")
    assert cache.ping() is False
    assert "did not answer a ping" in caplog.text
    cache.close()
