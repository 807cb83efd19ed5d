"""Fixtures running the cache tests against the memory, SQLite and Redis backends."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jitlite.cache import Cache, MemoryCache, MemoryStore, RedisCache, SqliteCache

BACKENDS = ["memory", "sqlite", "redis"]


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Harness:
    """A cache under test plus what a test needs to drive its backend."""

    kind: str
    cache: Cache
    # Let `seconds` pass for TTL purposes: a fake clock jump, or a real sleep for Redis.
    advance: Callable[[float], None]
    # Open another cache on the same store (same file, server or MemoryStore).
    make: Callable[[str], Cache]
    # Where a subprocess finds the store: the SQLite path or Redis URL ("" for memory).
    location: str
    opened: list[Cache] = field(default_factory=list)


def new_namespace() -> str:
    """Return a namespace no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"


def redis_url() -> str:
    """Return the test Redis URL; skip without one, but fail on CI where it must be configured."""
    url = os.environ.get("JITLITE_TEST_REDIS_URL", "")
    if not url:
        message = "JITLITE_TEST_REDIS_URL is not set (start redis-server and point it there)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; the Redis cache tests must run on CI")
        pytest.skip(message)
    return url


def delete_redis_namespace(client: Any, namespace: str) -> None:
    """Delete the value and lock keys of `namespace`."""
    for match in (f"{namespace}:*", f"{namespace}@lock:*"):
        keys = list(client.scan_iter(match=match, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Yield a fresh cache in a unique namespace of the parametrised backend, cleaned up after."""
    kind: str = request.param
    namespace = new_namespace()
    made: list[Cache] = []
    if kind == "memory":
        memory_clock = FakeClock(1_000.0)
        store = MemoryStore(memory_clock)

        def make(ns: str) -> Cache:
            cache = MemoryCache(ns, store=store)
            made.append(cache)
            return cache

        h = Harness(kind, make(namespace), memory_clock.advance, make, "")
    elif kind == "sqlite":
        path = tmp_path / "cache.db"
        sqlite_clock = FakeClock(time.time())

        def make(ns: str) -> Cache:
            cache = SqliteCache(path, ns, clock=sqlite_clock)
            made.append(cache)
            return cache

        h = Harness(kind, make(namespace), sqlite_clock.advance, make, str(path))
    else:
        url = redis_url()

        def make(ns: str) -> Cache:
            cache = RedisCache(url, ns)
            made.append(cache)
            return cache

        first = make(namespace)
        try:
            assert isinstance(first, RedisCache)
            first.client.ping()
        except Exception as exc:
            pytest.fail(f"cannot reach Redis at JITLITE_TEST_REDIS_URL={url!r}: {exc}")
        h = Harness(kind, first, time.sleep, make, url)
    yield h
    for cache in made:
        if isinstance(cache, RedisCache):
            delete_redis_namespace(cache.client, cache.namespace)
        cache.close()


@pytest.fixture
def cache(harness: Harness) -> Cache:
    """Return the harness's cache."""
    return harness.cache


@pytest.fixture
def fake_clock() -> FakeClock:
    """Return a fake clock starting at the current wall-clock time."""
    return FakeClock(time.time())


@pytest.fixture
def redis_cache() -> Iterator[RedisCache]:
    """Yield a RedisCache in a fresh namespace, deleting the namespace's keys afterwards."""
    cache = RedisCache(redis_url(), new_namespace())
    yield cache
    delete_redis_namespace(cache.client, cache.namespace)
    cache.close()


def run_two_processes(harness: Harness, monkeypatch: pytest.MonkeyPatch, worker: str, count: int) -> None:
    """Run ``jitlite_cache_workers.<worker>`` in two spawned processes on the harness's cache; both must exit 0.

    The workers start together (a barrier) and are killed if they have not finished within 45 s.
    """
    # Spawned children import the worker module by name, so its folder must be on sys.path, which
    # multiprocessing passes on to them.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import jitlite_cache_workers as workers  # type: ignore[import-not-found]  # on sys.path just above

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    args = (harness.kind, harness.location, harness.cache.namespace, count, start)
    processes = [context.Process(target=getattr(workers, worker), args=args) for _ in range(2)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 45
    try:
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(p.is_alive() for p in processes), f"{worker} processes did not finish in time"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
    assert [p.exitcode for p in processes] == [0, 0]
