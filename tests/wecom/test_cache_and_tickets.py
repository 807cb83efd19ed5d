"""LocalTokenCache (TTL, named locks) and MemoryTicketStore (newest wins)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jitlite.cache import MemoryCache, MemoryStore, SqliteCache
from jitlite.wecom import LocalTokenCache, MemoryTicketStore, TicketStore, TokenCache


def test_local_cache_satisfies_the_protocol() -> None:
    assert isinstance(LocalTokenCache(), TokenCache)
    assert isinstance(MemoryTicketStore(), TicketStore)


def test_values_expire_after_their_ttl(clock: Any) -> None:
    cache = LocalTokenCache(clock)
    cache.set("a", {"x": 1}, ttl=10)
    cache.set("forever", "v")
    assert cache.get("a") == {"x": 1}
    clock.advance(9.9)
    assert cache.get("a") == {"x": 1}
    clock.advance(0.2)
    assert cache.get("a") is None
    assert cache.get("forever") == "v"
    cache.delete("forever")
    cache.delete("missing")  # deleting a missing name is fine
    assert cache.get("forever") is None
    assert len(cache) == 0


def test_expired_entries_are_swept_without_being_read(clock: Any) -> None:
    cache = LocalTokenCache(clock)
    for i in range(2000):
        cache.set(f"k{i}", i, ttl=1)
    clock.advance(2)
    for i in range(48):  # the 2048th set triggers a sweep
        cache.set(f"live{i}", i)
    assert len(cache._data) == 48


def test_lock_is_mutually_exclusive_per_name() -> None:
    cache = LocalTokenCache()
    inside = 0
    peak = 0
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, peak
        with cache.lock("refresh", ttl=5):
            with guard:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.002)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1
    with cache.lock("a", ttl=1), cache.lock("b", ttl=1):  # different names do not block each other
        pass


def test_lock_wait_is_bounded_by_its_timeout_not_its_ttl() -> None:
    cache = LocalTokenCache()
    with cache.lock("held", ttl=5):
        began = time.monotonic()
        with (
            pytest.raises(TimeoutError, match=r"'held' still held after 0\.05 s"),
            cache.lock("held", 0.01, timeout=0.05),
        ):
            pass
        assert 0.04 <= time.monotonic() - began < 1.0
        with pytest.raises(TimeoutError, match="after 0 s"), cache.lock("held", ttl=60, timeout=0):  # one try
            pass


def test_lock_without_timeout_waits_for_the_holder() -> None:
    cache = LocalTokenCache()
    holder = cache.lock("held", ttl=5)
    holder.__enter__()
    release = threading.Timer(0.05, holder.__exit__, (None, None, None))
    release.start()
    try:
        with cache.lock("held", ttl=5, timeout=None):
            pass
    finally:
        release.join()


def test_lock_rejects_a_negative_timeout() -> None:
    with pytest.raises(ValueError, match="timeout must be None or a number >= 0"):
        LocalTokenCache().lock("x", 5, timeout=-1)


def test_jitlite_caches_satisfy_the_protocol(tmp_path: Path) -> None:
    sqlite = SqliteCache(tmp_path / "cache.db", "protocol")
    try:
        # A typed list: the type checker holds jitlite's caches to the protocol's signatures too.
        caches: list[TokenCache] = [MemoryCache("protocol", store=MemoryStore()), sqlite]
        for cache in caches:
            assert isinstance(cache, TokenCache)
            with cache.lock("l", 5, timeout=0), pytest.raises(TimeoutError), cache.lock("l", 5, timeout=0):
                pass
    finally:
        sqlite.close()


def test_add_stores_only_over_a_missing_or_expired_value(clock: Any) -> None:
    cache = LocalTokenCache(clock)
    assert cache.add("nonce", 1, ttl=10) is True
    assert cache.add("nonce", 2, ttl=10) is False
    assert cache.get("nonce") == 1
    clock.advance(9.9)
    assert cache.add("nonce", 3) is False  # still live: the refused add changes nothing
    clock.advance(0.2)
    assert cache.add("nonce", 4) is True  # expired: taken over, now without expiry
    clock.advance(10_000)
    assert cache.get("nonce") == 4
    assert cache.add("nonce", 5, ttl=1) is False
    cache.set("none", None)
    assert cache.add("none", 1) is False  # a stored None is still a value


def test_concurrent_adds_have_exactly_one_winner() -> None:
    cache = LocalTokenCache()
    start = threading.Barrier(8)
    winners: list[int] = []

    def worker(n: int) -> None:
        start.wait(timeout=5)
        if cache.add("once", n, ttl=60):
            winners.append(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(winners) == 1 and cache.get("once") == winners[0]


def test_newest_ticket_wins_and_older_never_overwrites() -> None:
    store = MemoryTicketStore()
    assert store.latest("ww1") is None
    store.save("ww1", "T-100", 100.0)
    store.save("ww1", "T-700", 700.0)
    store.save("ww1", "T-400", 400.0)  # a delayed retry of an older push
    assert store.latest("ww1") == ("T-700", 700.0)
    store.save("ww1", "T-700b", 700.0)  # same push time: a re-delivery replaces
    assert store.latest("ww1") == ("T-700b", 700.0)
    store.save("ww2", "U-1", 50.0)
    assert store.latest("ww2") == ("U-1", 50.0)
    assert store.latest("ww1") == ("T-700b", 700.0)
    assert "T-700" not in repr(store)


def test_the_newest_ticket_is_kept_past_thirty_minutes() -> None:
    store = MemoryTicketStore()
    store.save("ww1", "T", time.time() - 3600)
    assert store.latest("ww1") is not None


def test_ticket_store_rejects_empty_values() -> None:
    with pytest.raises(ValueError):
        MemoryTicketStore().save("ww1", "", 1.0)
