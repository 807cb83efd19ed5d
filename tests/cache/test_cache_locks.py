"""Cache locks: exclusion between threads and processes, timeouts, expiry and safe release."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from jitlite.cache import Cache, CacheLock, LockTimeout

from .conftest import run_two_processes

if TYPE_CHECKING:
    from .conftest import Harness


def test_lock_is_a_context_manager_that_releases(cache: Cache) -> None:
    lock = cache.lock("job", 10)
    assert isinstance(lock, CacheLock)
    assert lock.held is False
    with lock as entered:
        assert entered is lock
        assert lock.held is True
        with pytest.raises(LockTimeout):
            cache.lock("job", 10, timeout=0).acquire()
    assert lock.held is False
    with cache.lock("job", 10, timeout=0):
        pass


def test_lock_is_released_when_the_block_raises(cache: Cache) -> None:
    with pytest.raises(RuntimeError, match="boom"), cache.lock("job", 10):
        raise RuntimeError("boom")
    with cache.lock("job", 10, timeout=0):
        pass


def test_locks_with_different_names_are_independent(cache: Cache) -> None:
    with cache.lock("a", 10), cache.lock("b", 10, timeout=0):
        assert cache.exists("a") is False  # a lock is not a value
    assert cache.keys() == []


def test_lock_object_misuse_raises(cache: Cache) -> None:
    lock = cache.lock("job", 10)
    with pytest.raises(RuntimeError, match="not held"):
        lock.release()
    lock.acquire()
    with pytest.raises(RuntimeError, match="already held"):
        lock.acquire()
    assert lock.release() is True
    # A released CacheLock can be acquired again.
    with lock:
        assert lock.held


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"timeout": -1}, "timeout"), ({"timeout": "1"}, "timeout"), ({"poll": 0}, "poll")],
)
def test_lock_rejects_bad_arguments(cache: Cache, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cache.lock("job", 10, **kwargs)


def test_lock_timeout_names_the_lock(cache: Cache) -> None:
    holder = cache.lock("busy", 10).acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeout, match=rf"'busy' in namespace '{cache.namespace}'") as caught:
        cache.lock("busy", 10, timeout=0.2, poll=0.02).acquire()
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 2
    assert isinstance(caught.value, TimeoutError)
    started = time.monotonic()
    with pytest.raises(LockTimeout):
        cache.lock("busy", 10, timeout=0).acquire()
    assert time.monotonic() - started < 0.5
    assert holder.release() is True


def test_waiter_gets_the_lock_when_the_holder_releases(cache: Cache) -> None:
    holder = cache.lock("job", 10).acquire()
    timer = threading.Timer(0.1, holder.release)
    timer.start()
    started = time.monotonic()
    with cache.lock("job", 10, timeout=None, poll=0.01):
        waited = time.monotonic() - started
    timer.join()
    assert 0.05 <= waited < 2


def test_lock_excludes_threads(harness: Harness) -> None:
    threads_count, rounds = 8, 25
    namespace = harness.cache.namespace
    state = {"inside": 0, "max_inside": 0}
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        cache = harness.make(namespace)
        try:
            for _ in range(rounds):
                with cache.lock("counter-lock", ttl=30, timeout=30, poll=0.001):
                    with guard:
                        state["inside"] += 1
                        state["max_inside"] = max(state["max_inside"], state["inside"])
                    value = cache.get("counter") or 0
                    time.sleep(0.0005)  # invite a lost update if exclusion were broken
                    cache.set("counter", value + 1)
                    with guard:
                        state["inside"] -= 1
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert state["max_inside"] == 1
    assert harness.cache.get("counter") == threads_count * rounds


def test_expired_lock_can_be_taken_over(harness: Harness) -> None:
    cache = harness.cache
    stale = cache.lock("job", 0.1).acquire()
    with pytest.raises(LockTimeout):
        cache.lock("job", 10, timeout=0).acquire()
    harness.advance(0.15)
    with cache.lock("job", 10, timeout=0) as fresh:
        assert fresh.held
    assert stale.held  # the stale holder has not noticed yet


def test_release_after_expiry_keeps_the_new_holders_lock(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    cache = harness.cache
    stale = cache.lock("job", 0.1).acquire()
    harness.advance(0.15)
    fresh = cache.lock("job", 10, timeout=0).acquire()
    with caplog.at_level(logging.WARNING, logger="jitlite.cache"):
        assert stale.release() is False
    assert "'job'" in caplog.text and "expired" in caplog.text
    # The late release must not have deleted the new holder's lock.
    with pytest.raises(LockTimeout):
        cache.lock("job", 10, timeout=0).acquire()
    assert fresh.release() is True
    with cache.lock("job", 10, timeout=0):
        pass


def test_release_after_expiry_without_takeover_warns(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    cache = harness.cache
    overran = cache.lock("job", 0.1).acquire()
    harness.advance(0.15)
    with caplog.at_level(logging.WARNING, logger="jitlite.cache"):
        assert overran.release() is False
    assert "expired" in caplog.text
    with cache.lock("job", 10, timeout=0):
        pass


def test_release_in_time_does_not_warn(cache: Cache, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="jitlite.cache"), cache.lock("job", 10):
        pass
    assert caplog.records == []


PROCESS_ROUNDS = 40


@pytest.mark.parametrize("harness", ["sqlite", "redis"], indirect=True)
def test_lock_excludes_other_processes(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    run_two_processes(harness, monkeypatch, "locked_increments", PROCESS_ROUNDS)
    assert harness.cache.get("counter") == 2 * PROCESS_ROUNDS
