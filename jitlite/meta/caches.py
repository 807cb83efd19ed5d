"""``caches.Meta``: the base of cache elements (JitAi's cache API over a backend)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..cache import Cache, CacheLock
from ..runtime.element import Element

__all__ = ["CacheElement"]


class CacheElement(Element):
    """A cache element: JSON values with TTLs, counters and locks, keys prefixed with the appId.

    Each cache Type opens its backend in ``openBackend``; the methods below are JitAi's cache API
    (``ts`` is a TTL in seconds; jitlite's ``ttl=`` keyword means the same).
    """

    #: Whether the processes serving the app share this cache (False for the in-process memory cache).
    sharedAcrossProcesses: ClassVar[bool] = True
    backend: Cache

    def onLoad(self) -> None:
        """Open the backend once the element is built."""
        self.backend = self.openBackend()

    def openBackend(self) -> Cache:
        """Return the backend this cache Type stores into."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement openBackend()")

    def get(self, name: str) -> Any | None:
        """Return the value stored under name, or None if it is missing or expired."""
        return self.backend.get(name)

    def set(self, name: str, value: Any, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store a JSON value under name, expiring after ts seconds if given; return True."""
        return self.backend.set(name, value, ts, ttl=ttl)

    def add(self, name: str, value: Any, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store a JSON value under name unless it holds one (atomically), expiring after ts s; False if held."""
        return self.backend.add(name, value, ts, ttl=ttl)

    def getNumeric(self, name: str) -> int | float:
        """Return the number stored under name, or 0 if there is none."""
        return self.backend.getNumeric(name)

    def setNumeric(self, name: str, n: int | float = 0, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store the number n under name, expiring after ts seconds if given; return True."""
        return self.backend.setNumeric(name, n, ts, ttl=ttl)

    def incr(self, name: str, amount: int = 1) -> int:
        """Add amount to the integer under name atomically and return the new value."""
        return self.backend.incr(name, amount)

    def expire(self, name: str, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Make name expire ts seconds from now; False if it does not exist."""
        return self.backend.expire(name, ts, ttl=ttl)

    def exists(self, name: str) -> bool:
        """Tell whether name holds a value."""
        return self.backend.exists(name)

    def delete(self, name: str) -> bool:
        """Delete name; False if it did not exist."""
        return self.backend.delete(name)

    def keys(self, pattern: str = "*") -> list[str]:
        """Return the names matching a glob pattern."""
        return self.backend.keys(pattern)

    def ttl(self, name: str) -> float | None:
        """Return the seconds name has left, or None if it never expires or is missing."""
        return self.backend.ttl(name)

    def ping(self) -> bool:
        """Tell whether the backend answers."""
        return self.backend.ping()

    def disconnect(self) -> None:
        """Close the backend's connections (they reopen on the next call), as JitAi's Redis cache does."""
        self.backend.close()

    def close(self) -> None:
        """Close the backend when the app closes (``App.close()`` calls it)."""
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()

    def lock(self, name: str, ttl: float, *, timeout: float | None = 10.0, poll: float = 0.05) -> CacheLock:
        """Return a lock (a context manager) that excludes other holders, across processes where the backend can."""
        return self.backend.lock(name, ttl, timeout=timeout, poll=poll)
