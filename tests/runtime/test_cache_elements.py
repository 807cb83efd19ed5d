"""Cache elements: caches.Default and overriding it with the SQLite or Redis Types."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite
from jitlite.meta import CacheElement


def test_default_cache_is_sqlite_in_app_data(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="defaultcache")
    cache = jitlite.App(root, environ={}).getElement("caches.Default")
    assert isinstance(cache, CacheElement)
    assert type(cache).__name__ == "SqliteCacheType" and cache.sharedAcrossProcesses
    assert cache.set("token", {"value": "t"}, ttl=60) is True
    assert cache.get("token") == {"value": "t"}
    assert cache.incr("n") == 1 and cache.getNumeric("n") == 1
    assert sorted(cache.keys()) == ["n", "token"]
    with cache.lock("refresh", ttl=5):
        assert cache.exists("token")
    assert cache.delete("token") and not cache.exists("token")
    assert (root / "appData" / "caches" / "Default" / "sqlite.db").is_file()
    # A second App on the same folder (another worker process, say) sees the same values.
    assert jitlite.App(root, environ={}).getElement("caches.Default").getNumeric("n") == 1


def test_memory_cache_is_an_explicit_choice(make_app: Callable[..., Path]) -> None:
    root = make_app({"caches/Default/e.json": {"title": "Process cache", "type": "caches.MemoryType"}},
                    app_id="memorycache")
    cache = jitlite.App(root, environ={}).getElement("caches.Default")
    assert type(cache).__name__ == "MemoryCacheType" and not cache.sharedAcrossProcesses
    cache.set("k", 1)
    assert jitlite.App(root, environ={}).getElement("caches.Default").get("k") is None  # this process only
    assert not (root / "appData" / "caches").exists()


def test_override_default_with_sqlite(make_app: Callable[..., Path]) -> None:
    root = make_app({"caches/Default/e.json": {"title": "Shared cache", "type": "caches.SqliteType"},
                     "caches/Default/Default.json": {"path": "appData/shared-cache.sqlite3"}}, app_id="sqlitecache")
    cache = jitlite.App(root, environ={}).getElement("caches.Default")
    cache.set("k", [1, 2])
    assert (root / "appData" / "shared-cache.sqlite3").is_file()
    # A second App on the same folder (another worker process, say) sees the same values.
    assert jitlite.App(root, environ={}).getElement("caches.Default").get("k") == [1, 2]


def test_override_default_with_redis(make_app: Callable[..., Path]) -> None:
    url = os.environ.get("JITLITE_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("JITLITE_TEST_REDIS_URL must be set on CI (eval \"$(.ci/services)\")")
        pytest.skip("JITLITE_TEST_REDIS_URL is not set")
    root = make_app({"caches/Default/e.json": {"title": "Redis cache", "type": "caches.RedisType"},
                     "caches/Default/Default.json": {"url": "{{REDIS_URL}}"}},
                    app_id="rediscache", variables=[{"name": "REDIS_URL", "required": True}])
    app = jitlite.App(root, environ={"REDIS_URL": url})
    cache = app.getElement("caches.Default")
    try:
        cache.set("k", "v", ttl=30)
        assert cache.get("k") == "v"
        assert url not in str(app.describe("caches.Default"))  # the URL may carry a password
    finally:
        cache.delete("k")
