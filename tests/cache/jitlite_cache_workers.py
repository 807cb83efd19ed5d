"""Process entry points for the cross-process lock tests (spawned children import this module)."""

from __future__ import annotations

import time
from multiprocessing.synchronize import Barrier

from jitlite.cache import Cache, RedisCache, SqliteCache


def open_cache(kind: str, location: str, namespace: str) -> Cache:
    """Open the shared cache a test's parent process uses."""
    if kind == "sqlite":
        return SqliteCache(location, namespace)
    if kind == "redis":
        return RedisCache(location, namespace)
    raise ValueError(f"no cross-process backend {kind!r}")


def locked_increments(kind: str, location: str, namespace: str, times: int, start: Barrier) -> None:
    """Increment a plain (non-atomic) counter `times` times, each read-modify-write under the lock."""
    cache = open_cache(kind, location, namespace)
    start.wait(timeout=30)
    for _ in range(times):
        with cache.lock("counter-lock", ttl=30, timeout=30, poll=0.002):
            value = cache.get("counter") or 0
            # Widen the window between read and write so a broken lock loses updates reliably.
            time.sleep(0.001)
            cache.set("counter", value + 1)
    cache.close()


def racing_adds(kind: str, location: str, namespace: str, names: int, start: Barrier) -> None:
    """Add each of `names` names once, counting every add that reports it stored (one winner per name)."""
    cache = open_cache(kind, location, namespace)
    start.wait(timeout=30)
    for i in range(names):
        if cache.add(f"name-{i}", i, ttl=60):
            cache.incr(f"wins-{i}")
    cache.close()
