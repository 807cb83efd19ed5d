"""MemoryCache specifics: the shared store, the injectable clock and the bounded sweep."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from jitlite.cache import MemoryCache, MemoryStore

if TYPE_CHECKING:
    from .conftest import FakeClock


def test_instances_share_the_process_wide_store_by_default() -> None:
    namespace = f"t-mem-{time.monotonic_ns()}"
    first, second = MemoryCache(namespace), MemoryCache(namespace)
    try:
        first.set("k", 1)
        assert second.get("k") == 1
        with first.lock("job", 10), pytest.raises(TimeoutError):
            second.lock("job", 10, timeout=0).acquire()
    finally:
        first.delete("k")
    assert first.store is second.store


def test_separate_stores_do_not_share() -> None:
    first, second = MemoryCache("app", store=MemoryStore()), MemoryCache("app", store=MemoryStore())
    first.set("k", 1)
    assert second.get("k") is None


def test_expiry_follows_the_injected_clock(fake_clock: FakeClock) -> None:
    cache = MemoryCache("app", store=MemoryStore(fake_clock))
    cache.set("k", "v", ttl=60)
    time.sleep(0.01)
    assert cache.ttl("k") == 60  # real time passing does not count
    fake_clock.advance(59.5)
    assert cache.get("k") == "v"
    fake_clock.advance(0.5)
    assert cache.get("k") is None


def test_expired_keys_cannot_pile_up(fake_clock: FakeClock) -> None:
    store = MemoryStore(fake_clock, sweep_batch=4)
    cache = MemoryCache("app", store=store)
    # 5000 keys that live 1 s, one written every 10 ms: about 100 are live at any time.
    # None of them is ever read again, so only the sweep can remove the expired ones.
    high_water = 0
    for i in range(5000):
        cache.set(f"k{i}", i, ttl=1)
        fake_clock.advance(0.01)
        high_water = max(high_water, len(store))
    assert high_water <= 102
    assert len(cache.keys()) <= 101


def test_sweep_catches_up_in_bounded_steps(fake_clock: FakeClock) -> None:
    store = MemoryStore(fake_clock, sweep_batch=10)
    cache = MemoryCache("app", store=store)
    for i in range(100):
        cache.set(f"k{i}", i, ttl=1)
    cache.set("keep", 1)
    fake_clock.advance(2)
    assert len(store) == 101  # nothing swept until the next write
    cache.set("w0", 0)
    assert len(store) == 102 - 10
    for i in range(1, 10):
        cache.set(f"w{i}", i)
    assert len(store) == 11  # "keep" and the ten writes
    assert cache.keys("k[0-9]*") == []


def test_rewriting_keys_with_ttls_keeps_the_expiry_heap_bounded(fake_clock: FakeClock) -> None:
    store = MemoryStore(fake_clock)
    cache = MemoryCache("app", store=store)
    for i in range(10_000):
        cache.set("token", i, ttl=7200)
        cache.expire("token", 7200)
    assert len(store) == 1
    assert len(store._expiries) <= 2 * len(store) + 65


def test_waiter_is_woken_by_release_not_by_polling() -> None:
    cache = MemoryCache("app", store=MemoryStore())
    holder = cache.lock("job", 10).acquire()
    timer = threading.Timer(0.05, holder.release)
    timer.start()
    started = time.monotonic()
    with cache.lock("job", 10, timeout=5, poll=5):
        waited = time.monotonic() - started
    timer.join()
    assert waited < 1


def test_sweep_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sweep_batch"):
        MemoryStore(sweep_batch=0)
