"""How callers waiting for another worker's token refresh touch the shared lock, and how long they wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jitlite.cache import MemoryCache, MemoryStore, SqliteCache
from jitlite.runtime import clock as runtime_clock
from jitlite.wecom import Credential, LocalTokenCache, TokenCache, TokenManager, WeComError


class CountingCache:
    """A TokenCache passing every call through to another one, counting the lock attempts."""

    def __init__(self, inner: TokenCache) -> None:
        self.inner = inner
        self.lock_attempts = 0

    def get(self, name: str) -> Any | None:
        return self.inner.get(name)

    def set(self, name: str, value: Any, ttl: float | None = None, /) -> object:
        return self.inner.set(name, value, ttl)

    def add(self, name: str, value: Any, ttl: float | None = None, /) -> bool:
        return self.inner.add(name, value, ttl)

    def delete(self, name: str) -> object:
        return self.inner.delete(name)

    def lock(self, name: str, ttl: float, *, timeout: float | None = 10.0) -> AbstractContextManager[Any]:
        self.lock_attempts += 1
        return self.inner.lock(name, ttl, timeout=timeout)


@pytest.fixture(params=["local", "memory", "sqlite"])
def shared_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenCache]:
    """Return each in-repo cache kind a TokenManager runs on (the SQLite one takes a write per lock try)."""
    if request.param == "local":
        yield LocalTokenCache()
    elif request.param == "memory":
        yield MemoryCache("waiters", store=MemoryStore())
    else:
        sqlite = SqliteCache(tmp_path / "cache.db", "waiters")
        yield sqlite
        sqlite.close()


def never_fetch() -> tuple[str, float]:
    raise AssertionError("a waiter must not fetch while another worker holds the refresh lock")


def pause_hook(monkeypatch: pytest.MonkeyPatch, on_pause: Callable[[], None]) -> list[float]:
    """Run on_pause at each pause a waiter takes between two looks at the cache; return the pauses."""
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        on_pause()
        time.sleep(seconds)

    monkeypatch.setattr("jitlite.wecom.tokens.time", SimpleNamespace(monotonic=time.monotonic, sleep=pause))
    return pauses


def test_a_waiter_returns_the_stored_token_without_taking_the_lock_again(
    shared_cache: TokenCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingCache(shared_cache)
    manager = TokenManager(counting, lock_ttl=5.0)
    credential = Credential.of("corp", "wwwaiter", "secret-waiter-1")
    holder = ExitStack()  # another worker is refreshing the token
    holder.enter_context(shared_cache.lock(credential.cache_key + ":lock", 30, timeout=0))
    attempts_when_stored: list[int] = []

    def holder_finishes() -> None:
        if not attempts_when_stored:  # the refresh ends while the waiter pauses: token stored, lock freed
            entry = {"token": "FRESH", "refresh_at": runtime_clock.now() + 3600}
            shared_cache.set(credential.cache_key, entry, 3600)
            holder.close()
            attempts_when_stored.append(counting.lock_attempts)

    pauses = pause_hook(monkeypatch, holder_finishes)
    assert manager.get_token(credential, never_fetch) == "FRESH"
    assert len(pauses) == 1
    assert attempts_when_stored == [1]  # one try, refused, while the refresh ran
    assert counting.lock_attempts == 1  # and none once the token was there


def test_a_cached_token_is_served_without_touching_the_lock(shared_cache: TokenCache) -> None:
    counting = CountingCache(shared_cache)
    manager = TokenManager(counting)
    credential = Credential.of("corp", "wwwaiter", "secret-waiter-2")
    assert manager.get_token(credential, lambda: ("T1", 7200.0)) == "T1"
    assert counting.lock_attempts == 1  # the one refresh
    for _ in range(5):
        assert manager.get_token(credential, never_fetch) == "T1"
    assert counting.lock_attempts == 1


def test_a_waiter_waits_lock_wait_and_its_message_says_so(shared_cache: TokenCache) -> None:
    manager = TokenManager(shared_cache, lock_ttl=2.0, lock_wait=0.2)
    credential = Credential.of("suite", "wwsuite", "secret-waiter-3")
    with shared_cache.lock(credential.cache_key + ":lock", 30, timeout=0):
        began = time.monotonic()
        with pytest.raises(WeComError) as info:
            manager.get_token(credential, never_fetch)
        waited = time.monotonic() - began
    assert str(info.value).startswith(
        "timed out after 0.2 s waiting for another worker's suite token refresh of wwsuite "
        "(it holds the lock for at most 2 s)"
    )
    assert 0.19 <= waited < 1.5  # lock_wait, not lock_ttl nor the cache lock's own 10 s default


def test_invalidate_gives_up_after_lock_wait_with_a_wecom_error(shared_cache: TokenCache) -> None:
    manager = TokenManager(shared_cache, lock_ttl=0.5, lock_wait=0.05)
    credential = Credential.of("corp", "wwinvalid", "secret-waiter-4")
    assert manager.get_token(credential, lambda: ("T1", 7200.0)) == "T1"
    with shared_cache.lock(credential.cache_key + ":lock", 30, timeout=0):  # a refresh hangs elsewhere
        began = time.monotonic()
        with pytest.raises(WeComError) as info:
            manager.invalidate(credential, "T1")
        waited = time.monotonic() - began
    assert not isinstance(info.value, TimeoutError)  # not the cache's raw lock timeout
    assert str(info.value).startswith(
        "timed out after 0.05 s waiting for another worker's corp token refresh of wwinvalid "
        "(it holds the lock for at most 0.5 s)"
    )
    assert 0.04 <= waited < 0.45  # lock_wait, not lock_ttl (0.5 s) nor the cache's 10 s
    assert manager.get_token(credential, never_fetch) == "T1"  # nothing was dropped without the lock
