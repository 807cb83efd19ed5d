"""Cache.add (set-if-absent): stores only over a missing or expired value, atomically across threads and processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import jitlite
from jitlite.cache import Cache
from jitlite.meta import CacheElement
from jitlite.wecom import TokenCache

from .conftest import run_two_processes

if TYPE_CHECKING:
    from .conftest import Harness

# Fake clocks add and subtract floats, so a TTL read back may exceed the one set by rounding.
EPSILON = 1e-6


def test_add_stores_when_absent(cache: Cache) -> None:
    assert cache.add("k", {"token": "abc", "n": [1, 2]}) is True
    assert cache.get("k") == {"token": "abc", "n": [1, 2]}
    assert cache.ttl("k") is None  # no ts/ttl: never expires
    assert cache.add("timed", "v", 30) is True  # the third argument is ts, the TTL in seconds
    remaining = cache.ttl("timed")
    assert remaining is not None and 29 < remaining <= 30 + EPSILON
    assert cache.add("kw", 1, ttl=30) is True and cache.add("jitai", 1, ts=30) is True
    assert sorted(cache.keys()) == ["jitai", "k", "kw", "timed"]


def test_add_refuses_when_a_live_value_is_there(cache: Cache) -> None:
    cache.set("k", "first", ttl=100)
    assert cache.add("k", "second") is False
    assert cache.add("k", "third", ttl=5) is False
    assert cache.get("k") == "first"
    remaining = cache.ttl("k")
    assert remaining is not None and 99 < remaining <= 100 + EPSILON  # the refused add left the TTL alone
    assert cache.add("forever", 1) is True
    assert cache.add("forever", 2, ttl=1) is False
    assert cache.get("forever") == 1


def test_a_stored_falsy_value_still_counts_as_present(cache: Cache) -> None:
    for name, value in [("null", None), ("zero", 0), ("false", False), ("empty", "")]:
        assert cache.add(name, value) is True
        assert cache.add(name, "other") is False
        assert cache.exists(name) is True


def test_add_takes_over_an_expired_value(harness: Harness) -> None:
    cache = harness.cache
    assert cache.add("nonce", "old", ttl=0.1) is True
    assert cache.add("nonce", "early", ttl=10) is False
    harness.advance(0.15)
    assert cache.get("nonce") is None
    assert cache.add("nonce", "new", ttl=10) is True
    assert cache.get("nonce") == "new"
    remaining = cache.ttl("nonce")
    assert remaining is not None and 9 < remaining <= 10 + EPSILON  # the new TTL, not the expired one
    assert cache.add("nonce", "again", ttl=10) is False


def test_add_after_delete_stores_again(cache: Cache) -> None:
    assert cache.add("k", 1) is True
    assert cache.delete("k") is True
    assert cache.add("k", 2) is True
    assert cache.get("k") == 2


def test_add_is_scoped_to_its_namespace(harness: Harness) -> None:
    other = harness.make(harness.cache.namespace + "-other")
    assert harness.cache.add("k", "mine") is True
    assert other.add("k", "theirs") is True
    assert harness.cache.get("k") == "mine" and other.get("k") == "theirs"


@pytest.mark.parametrize("name", ["", "a\nb", "nul\x00", "del\x7f", "c1\x85", 5, None, b"bytes"], ids=repr)
def test_add_rejects_invalid_names(cache: Cache, name: Any) -> None:
    with pytest.raises(ValueError, match="cache key name"):
        cache.add(name, 1)
    assert cache.keys() == []


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "5", True])
def test_add_rejects_invalid_ttls(cache: Cache, ttl: Any) -> None:
    with pytest.raises(ValueError, match="ttl"):
        cache.add("k", 1, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.add("k", 1, ttl)
    assert cache.exists("k") is False


def test_add_rejects_ts_and_ttl_together(cache: Cache) -> None:
    with pytest.raises(ValueError, match=r"ts \(JitAi's name\) or ttl, not both"):
        cache.add("k", 1, 5, ttl=5)
    assert cache.exists("k") is False


@pytest.mark.parametrize(
    ("value", "error"),
    [(object(), TypeError), ({1, 2}, TypeError), (b"bytes", TypeError), (float("nan"), ValueError)],
    ids=["object", "set", "bytes", "nan"],
)
def test_add_rejects_values_json_cannot_hold(cache: Cache, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="'k' is not JSON-serialisable"):
        cache.add("k", value)
    assert cache.exists("k") is False


THREADS = 8
ROUNDS = 30


def test_concurrent_adds_of_one_name_have_exactly_one_winner(harness: Harness) -> None:
    namespace = harness.cache.namespace
    start = threading.Barrier(THREADS)
    wins: list[list[int]] = [[] for _ in range(ROUNDS)]
    guard = threading.Lock()
    errors: list[BaseException] = []

    def race(worker: int) -> None:
        cache = harness.make(namespace)  # each thread its own cache object (own connection/client)
        try:
            start.wait(timeout=10)
            for round_ in range(ROUNDS):
                if cache.add(f"nonce-{round_}", worker, ttl=60):
                    with guard:
                        wins[round_].append(worker)
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=race, args=(worker,)) for worker in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "adding threads did not finish in time"
    assert not errors
    assert [len(winners) for winners in wins] == [1] * ROUNDS
    # The stored value is the winner's, untouched by the losers.
    assert [harness.cache.get(f"nonce-{round_}") for round_ in range(ROUNDS)] == [w[0] for w in wins]


PROCESS_NAMES = 60


@pytest.mark.parametrize("harness", ["sqlite", "redis"], indirect=True)
def test_concurrent_adds_across_processes_have_exactly_one_winner(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_two_processes(harness, monkeypatch, "racing_adds", PROCESS_NAMES)
    assert [harness.cache.get(f"wins-{i}") for i in range(PROCESS_NAMES)] == [1] * PROCESS_NAMES


def test_cache_elements_offer_add_and_serve_as_token_caches(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="addcache")
    cache = jitlite.App(root, environ={}).getElement("caches.Default")
    assert isinstance(cache, CacheElement) and isinstance(cache, TokenCache)
    assert cache.add("once", {"v": 1}, 60) is True
    assert cache.add("once", {"v": 2}, ttl=60) is False
    # A second App on the same folder (another worker process) sees the value and cannot add over it.
    other = jitlite.App(root, environ={}).getElement("caches.Default")
    assert other.add("once", {"v": 3}) is False
    assert other.get("once") == {"v": 1}
    with pytest.raises(ValueError, match="cache key name"):
        cache.add("", 1)
