"""The cache protocol the token manager and callback replay guard run on, and a local implementation."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, runtime_checkable

from ..cache.base import check_lock_timeout
from ..runtime import clock as runtime_clock

__all__ = ["LocalTokenCache", "TokenCache"]


@runtime_checkable
class TokenCache(Protocol):
    """A shared key/value store with TTLs, set-if-absent and a named lock (memory, SQLite and Redis backends)."""

    def get(self, name: str) -> Any | None:
        """Return the live value stored under name, or None."""
        ...

    # The TTL is passed by position (jitlite's caches name that parameter ``ts``, JitAi's name), and
    # set/delete may answer something (jitlite's caches return a bool), so those caches conform too.
    def set(self, name: str, value: Any, ttl: float | None = None, /) -> object:
        """Store value under name, expiring after ttl seconds (never when None)."""
        ...

    def add(self, name: str, value: Any, ttl: float | None = None, /) -> bool:
        """Store value under name only if no live value is there, atomically; return whether it stored."""
        ...

    def delete(self, name: str) -> object:
        """Remove name if present."""
        ...

    def lock(self, name: str, ttl: float, *, timeout: float | None = 10.0) -> AbstractContextManager[Any]:
        """Return a context manager holding the named lock, held at most ttl seconds.

        Entering it waits at most ``timeout`` seconds for the lock (0: one try, None: no limit) and
        raises ``TimeoutError`` (or a subclass) when the lock stays taken.
        """
        ...


class LocalTokenCache:
    """Thread-safe in-process TokenCache with TTLs and per-name locks.

    TTLs run on ``clock`` (Unix seconds), by default the app's one clock, ``jitlite.runtime.clock``,
    read at every call: freezing or moving that clock in a test expires entries accordingly.
    """

    _PURGE_EVERY = 1024  # sets between sweeps of expired entries, so unread keys cannot pile up

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = runtime_clock.now if clock is None else clock
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._sets = 0

    def get(self, name: str) -> Any | None:
        """Return the live value stored under name, or None."""
        with self._guard:
            item = self._data.get(name)
            if item is None:
                return None
            value, expires_at = item
            if expires_at is not None and self._clock() >= expires_at:
                del self._data[name]
                return None
            return value

    def set(self, name: str, value: Any, ttl: float | None = None) -> None:
        """Store value under name, expiring after ttl seconds (never when None)."""
        with self._guard:
            expires_at = None if ttl is None else self._clock() + ttl
            self._data[name] = (value, expires_at)
            self._sets += 1
            if self._sets % self._PURGE_EVERY == 0:
                self._purge_locked()

    def add(self, name: str, value: Any, ttl: float | None = None) -> bool:
        """Store value under name only if no live value is there, atomically; return whether it stored."""
        with self._guard:
            now = self._clock()
            item = self._data.get(name)
            if item is not None and (item[1] is None or now < item[1]):
                return False
            self._data[name] = (value, None if ttl is None else now + ttl)
            self._sets += 1
            if self._sets % self._PURGE_EVERY == 0:
                self._purge_locked()
            return True

    def delete(self, name: str) -> None:
        """Remove name if present."""
        with self._guard:
            self._data.pop(name, None)

    def lock(self, name: str, ttl: float, *, timeout: float | None = 10.0) -> AbstractContextManager[None]:
        """Return a context manager holding the named lock, waiting at most timeout seconds for it.

        ``timeout`` 0 tries once and None waits without limit. ``ttl`` is not enforced: the lock lives
        in this process, so its holder's ``with`` block always releases it, even on an exception.
        """
        timeout = check_lock_timeout(timeout)
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = threading.Lock()
        return self._hold(lock, name, timeout)

    def __len__(self) -> int:
        with self._guard:
            self._purge_locked()
            return len(self._data)

    def __repr__(self) -> str:
        return f"LocalTokenCache(entries={len(self._data)})"

    @staticmethod
    @contextmanager
    def _hold(lock: threading.Lock, name: str, timeout: float | None) -> Iterator[None]:
        if not lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError(f"lock {name!r} still held after {timeout:g} s")
        try:
            yield
        finally:
            lock.release()

    def _purge_locked(self) -> None:
        now = self._clock()
        expired = [k for k, (_, exp) in self._data.items() if exp is not None and now >= exp]
        for key in expired:
            del self._data[key]
