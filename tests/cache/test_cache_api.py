"""Behaviour every cache backend shares: values, TTLs, counters, keys, namespaces."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from jitlite.cache import Cache

if TYPE_CHECKING:
    from .conftest import Harness

INT64_MAX = 2**63 - 1
# Fake clocks add and subtract floats, so a TTL read back may exceed the one set by rounding.
EPSILON = 1e-6

JSON_VALUES: list[Any] = [
    "text",
    "中文 and émoji 🎉",
    "",
    0,
    -17,
    INT64_MAX,
    2**70,
    3.25,
    True,
    False,
    None,
    [],
    [1, "two", [3.0, None]],
    {},
    {"access_token": "abc", "expires_in": 7200, "nested": {"ok": True, "list": [1, 2]}},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_set_then_get_round_trips_json_values(cache: Cache, value: Any) -> None:
    assert cache.set("k", value) is True
    assert cache.get("k") == value
    assert type(cache.get("k")) is type(value)
    assert cache.exists("k") is True


def test_get_missing_is_none(cache: Cache) -> None:
    assert cache.get("missing") is None
    assert cache.exists("missing") is False
    assert cache.ttl("missing") is None
    assert cache.getNumeric("missing") == 0  # JitAi: a missing number reads as 0


def test_get_returns_a_copy_not_the_stored_object(cache: Cache) -> None:
    value = {"list": [1]}
    cache.set("k", value)
    value["list"].append(2)
    got = cache.get("k")
    assert got is not None
    got["list"].append(3)
    assert cache.get("k") == {"list": [1]}


def test_set_replaces_value_and_ttl(cache: Cache) -> None:
    cache.set("k", "old", ttl=100)
    cache.set("k", "new")
    assert cache.get("k") == "new"
    assert cache.ttl("k") is None


@pytest.mark.parametrize(
    ("value", "error"),
    [(object(), TypeError), ({1, 2}, TypeError), (b"bytes", TypeError), (float("nan"), ValueError)],
    ids=["object", "set", "bytes", "nan"],
)
def test_set_rejects_values_json_cannot_hold(cache: Cache, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="'k' is not JSON-serialisable"):
        cache.set("k", value)
    assert cache.exists("k") is False


BAD_NAMES: list[Any] = ["", "a\nb", "nul\x00", "tab\there", "del\x7f", "c1\x85", 5, None, b"bytes"]

NAME_CALLS: dict[str, Callable[[Cache, Any], object]] = {
    "get": lambda c, n: c.get(n),
    "set": lambda c, n: c.set(n, 1),
    "getNumeric": lambda c, n: c.getNumeric(n),
    "incr": lambda c, n: c.incr(n),
    "expire": lambda c, n: c.expire(n, 10),
    "exists": lambda c, n: c.exists(n),
    "delete": lambda c, n: c.delete(n),
    "ttl": lambda c, n: c.ttl(n),
    "lock": lambda c, n: c.lock(n, 10),
}


@pytest.mark.parametrize("method", NAME_CALLS)
def test_invalid_names_raise_value_error(cache: Cache, method: str) -> None:
    for name in BAD_NAMES:
        with pytest.raises(ValueError, match="cache key name"):
            NAME_CALLS[method](cache, name)
    assert cache.keys() == []


@pytest.mark.parametrize("name", ["a", "with space", "colon:and/slash", "中文", "*?[]", "@lock:x"])
def test_unusual_but_valid_names(cache: Cache, name: str) -> None:
    cache.set(name, name)
    assert cache.get(name) == name
    assert cache.keys() == [name]


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "5", True, None])
def test_invalid_ttls_raise_value_error(cache: Cache, ttl: Any) -> None:
    cache.set("k", 1)
    if ttl is not None:  # None is valid for set (no expiry) but not for expire or lock
        with pytest.raises(ValueError, match="ttl"):
            cache.set("k", 2, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.expire("k", ttl)
    with pytest.raises(ValueError, match="ttl"):
        cache.lock("l", ttl)
    assert cache.get("k") == 1
    assert cache.ttl("k") is None


@pytest.mark.parametrize("namespace", ["", "a:b", "a b", "a@b", "ü", "a*", "x\n", 7])
def test_invalid_namespaces_raise_value_error(harness: Harness, namespace: Any) -> None:
    with pytest.raises(ValueError, match="namespace"):
        harness.make(namespace)


def test_ttl_expiry(harness: Harness) -> None:
    cache = harness.cache
    cache.set("short", "v", ttl=0.1)
    cache.set("long", "v", ttl=100)
    cache.set("forever", "v")
    remaining = cache.ttl("short")
    assert remaining is not None and 0 < remaining <= 0.1 + EPSILON
    assert cache.exists("short")
    harness.advance(0.15)
    assert cache.get("short") is None
    assert cache.exists("short") is False
    assert cache.ttl("short") is None
    assert cache.delete("short") is False
    assert cache.expire("short", 10) is False
    assert cache.get("short") is None
    assert cache.keys() == ["forever", "long"]
    assert cache.get("long") == "v"


def test_expire_sets_and_replaces_ttl(harness: Harness) -> None:
    cache = harness.cache
    assert cache.expire("missing", 10) is False
    assert cache.exists("missing") is False
    cache.set("k", [1])
    assert cache.ttl("k") is None
    assert cache.expire("k", 100) is True
    remaining = cache.ttl("k")
    assert remaining is not None and 99 < remaining <= 100 + EPSILON
    assert cache.expire("k", 0.1) is True
    assert cache.get("k") == [1]
    harness.advance(0.15)
    assert cache.exists("k") is False


def test_expired_key_can_be_set_again(harness: Harness) -> None:
    cache = harness.cache
    cache.set("k", "first", ttl=0.1)
    harness.advance(0.15)
    assert cache.set("k", "second") is True
    assert cache.get("k") == "second"
    assert cache.ttl("k") is None


def test_incr(cache: Cache) -> None:
    assert cache.incr("n") == 1
    assert cache.incr("n") == 2
    assert cache.incr("n", 10) == 12
    assert cache.incr("n", -20) == -8
    assert cache.incr("n", 0) == -8
    assert cache.get("n") == -8
    assert cache.getNumeric("n") == -8
    assert cache.incr("fresh", -3) == -3
    cache.set("preset", 40)
    assert cache.incr("preset", 2) == 42
    assert type(cache.incr("preset")) is int


def test_incr_keeps_ttl_but_expired_counter_restarts(harness: Harness) -> None:
    cache = harness.cache
    cache.set("n", 5, ttl=100)
    assert cache.incr("n") == 6
    remaining = cache.ttl("n")
    assert remaining is not None and 99 < remaining <= 100 + EPSILON
    cache.set("short", 5, ttl=0.1)
    harness.advance(0.15)
    assert cache.incr("short") == 1
    assert cache.ttl("short") is None


@pytest.mark.parametrize("value", ["7", 1.5, 2.0, True, None, [1], {"n": 1}, 2**63], ids=repr)
def test_incr_refuses_values_that_are_not_64bit_integers(cache: Cache, value: Any) -> None:
    cache.set("k", value)
    with pytest.raises(TypeError, match="not a 64-bit integer"):
        cache.incr("k")
    assert cache.get("k") == value


def test_incr_overflow_leaves_value_unchanged(cache: Cache) -> None:
    cache.set("k", INT64_MAX)
    with pytest.raises(OverflowError, match="'k'"):
        cache.incr("k")
    cache.set("m", -INT64_MAX - 1)
    with pytest.raises(OverflowError):
        cache.incr("m", -1)
    assert cache.get("k") == INT64_MAX
    assert cache.get("m") == -INT64_MAX - 1


@pytest.mark.parametrize("amount", [1.5, True, "1", 2**63, -(2**63) - 1])
def test_incr_rejects_bad_amounts(cache: Cache, amount: Any) -> None:
    with pytest.raises(ValueError, match="amount"):
        cache.incr("k", amount)
    assert cache.exists("k") is False


def test_incr_is_atomic_across_20_threads(harness: Harness) -> None:
    per_thread = 50
    results: list[int] = []
    errors: list[BaseException] = []
    results_lock = threading.Lock()
    start = threading.Barrier(20)

    def work() -> None:
        # Each thread uses its own instance, as separate workers would.
        cache = harness.make(harness.cache.namespace)
        try:
            start.wait()
            mine = [cache.incr("counter") for _ in range(per_thread)]
        except BaseException as exc:
            errors.append(exc)
            raise
        with results_lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert harness.cache.get("counter") == 20 * per_thread
    # Every increment saw a distinct value: none was lost or duplicated.
    assert sorted(results) == list(range(1, 20 * per_thread + 1))


def test_getNumeric(cache: Cache) -> None:
    cache.set("i", 3)
    cache.set("f", 2.5)
    cache.set("s", "3")
    cache.set("b", True)
    cache.set("l", [1])
    assert cache.getNumeric("i") == 3
    assert type(cache.getNumeric("i")) is int
    assert cache.getNumeric("f") == 2.5
    for name in ("s", "b", "l"):
        with pytest.raises(TypeError, match="not a number"):
            cache.getNumeric(name)


def test_jitai_names_ts_set_numeric_and_ping(cache: Cache) -> None:
    assert cache.set("token", "abc", 3600) is True  # the third argument is ts, the TTL in seconds
    remaining = cache.ttl("token")
    assert remaining is not None and 3599 < remaining <= 3600 + EPSILON
    assert cache.set("kw", 1, ts=60) is True and cache.set("old", 1, ttl=60) is True
    ttl_kw, ttl_old = cache.ttl("kw"), cache.ttl("old")
    assert ttl_kw is not None and ttl_old is not None and 59 < ttl_kw <= 60 + EPSILON and 59 < ttl_old <= 60 + EPSILON
    with pytest.raises(ValueError, match=r"ts \(JitAi's name\) or ttl, not both"):
        cache.set("k", 1, 5, ttl=5)
    assert cache.setNumeric("views", 100) is True and cache.getNumeric("views") == 100
    assert cache.incr("views", 5) == 105
    assert cache.setNumeric("rate", 2.5, 30) is True and cache.getNumeric("rate") == 2.5
    rate_ttl = cache.ttl("rate")
    assert rate_ttl is not None and 29 < rate_ttl <= 30 + EPSILON
    assert cache.setNumeric("zero") is True and cache.getNumeric("zero") == 0 and cache.exists("zero")
    for bad in ("3", True, None, [1], 2**63):
        with pytest.raises(ValueError, match="setNumeric"):
            cache.setNumeric("bad", bad)  # type: ignore[arg-type]
    assert cache.exists("bad") is False
    assert cache.expire("views", ts=10) is True
    views_ttl = cache.ttl("views")
    assert views_ttl is not None and 9 < views_ttl <= 10 + EPSILON
    assert cache.ping() is True


def test_exists_and_delete(cache: Cache) -> None:
    cache.set("null", None)
    assert cache.exists("null") is True
    assert cache.get("null") is None
    assert cache.delete("null") is True
    assert cache.delete("null") is False
    assert cache.exists("null") is False
    assert cache.delete("never") is False


KEY_NAMES = ["a", "ab", "abc", "b:1", "b:2", "x*y", "xzy", "ü1", "[x]", "A"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", sorted(KEY_NAMES)),
        ("a*", ["a", "ab", "abc"]),
        ("a?", ["ab"]),
        ("?1", ["ü1"]),
        ("b:*", ["b:1", "b:2"]),
        ("*:2", ["b:2"]),
        ("[ab]*", ["a", "ab", "abc", "b:1", "b:2"]),
        ("[!ab]*", sorted(["x*y", "xzy", "ü1", "[x]", "A"])),
        ("x[*]y", ["x*y"]),
        ("x*y", ["x*y", "xzy"]),
        ("[[]x]", ["[x]"]),
        ("A", ["A"]),
        ("abcd*", []),
        ("", []),
    ],
)
def test_keys_glob_patterns(cache: Cache, pattern: str, expected: list[str]) -> None:
    for name in KEY_NAMES:
        cache.set(name, 1)
    assert cache.keys(pattern) == expected


def test_keys_default_and_exclusions(harness: Harness) -> None:
    cache = harness.cache
    assert cache.keys() == []
    cache.set("live", 1)
    cache.set("dying", 1, ttl=0.1)
    cache.incr("counter")
    with cache.lock("locked", 10):
        assert cache.keys() == ["counter", "dying", "live"]
        harness.advance(0.15)
        assert cache.keys() == ["counter", "live"]
    with pytest.raises(ValueError, match="pattern"):
        cache.keys(None)  # type: ignore[arg-type]


def test_namespaces_are_isolated(harness: Harness) -> None:
    first = harness.cache
    other = harness.make(f"{first.namespace}-other")
    # A namespace that is a prefix of another must not see the longer one's keys.
    prefix = harness.make(first.namespace[:-1])
    first.set("shared", "first")
    other.set("shared", "other")
    other.set("only-other", 1)
    first.incr("n")
    assert first.get("shared") == "first"
    assert other.get("shared") == "other"
    assert first.keys() == ["n", "shared"]
    assert other.keys() == ["only-other", "shared"]
    assert prefix.keys() == []
    assert first.exists("only-other") is False
    assert first.delete("only-other") is False
    assert other.incr("n") == 1
    assert first.delete("shared") is True
    assert other.get("shared") == "other"
    with first.lock("l", 10), other.lock("l", 10, timeout=0):
        pass


def test_instances_on_one_store_share_a_namespace(harness: Harness) -> None:
    second = harness.make(harness.cache.namespace)
    harness.cache.set("k", {"v": 1}, ttl=100)
    assert second.get("k") == {"v": 1}
    remaining = second.ttl("k")
    assert remaining is not None and 99 < remaining <= 100 + EPSILON
    assert second.incr("n") == 1
    assert harness.cache.incr("n") == 2
    assert second.delete("k") is True
    assert harness.cache.exists("k") is False
