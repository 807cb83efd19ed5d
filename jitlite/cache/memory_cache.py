"""In-process cache backend: a dict guarded by one re-entrant lock."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..runtime import clock as runtime_clock
from .base import Cache, add_int64, decode_value

__all__ = ["MemoryCache", "MemoryStore"]


@dataclass
class _Entry:
    raw: str
    expires_at: float | None


@dataclass
class _LockEntry:
    token: str
    expires_at: float


class MemoryStore:
    """The shared state behind MemoryCache instances: values, TTLs and locks of all namespaces.

    Expired values are dropped lazily when read and by a bounded sweep on every write, which
    pops at most `sweep_batch` expired entries off a heap ordered by expiry; so the store
    cannot fill up with expired keys however many are written.

    TTLs and lock leases run on `clock` (Unix seconds), by default the app's one clock
    (`jitlite.runtime.clock`), read at every call: stored expiries such as OAuth states follow a
    test that freezes or moves time, as they do in the SQLite cache.
    """

    def __init__(self, clock: Callable[[], float] | None = None, *, sweep_batch: int = 64) -> None:
        if sweep_batch < 1:
            raise ValueError("sweep_batch must be at least 1")
        self.clock: Callable[[], float] = runtime_clock.now if clock is None else clock
        self.sweep_batch = sweep_batch
        self.mutex = threading.RLock()
        # Waiters for a lock sleep on this condition and are woken on release.
        self.released = threading.Condition(self.mutex)
        self.spaces: dict[str, dict[str, _Entry]] = {}
        self.locks: dict[tuple[str, str], _LockEntry] = {}
        # (expires_at, namespace, name); entries go stale when a key is rewritten and are
        # skipped when popped, or dropped wholesale when they outnumber the live entries.
        self._expiries: list[tuple[float, str, str]] = []
        self._size = 0

    def __len__(self) -> int:
        """Return the number of stored entries, including expired ones not yet swept."""
        with self.mutex:
            return self._size

    def live(self, namespace: str, name: str, now: float) -> _Entry | None:
        """Return the unexpired entry for `name`, dropping it if it has expired."""
        space = self.spaces.get(namespace)
        entry = None if space is None else space.get(name)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            self.drop(namespace, name)
            return None
        return entry

    def put(self, namespace: str, name: str, entry: _Entry, now: float) -> None:
        """Store `entry`, schedule its expiry and sweep a bounded number of expired entries."""
        space = self.spaces.setdefault(namespace, {})
        if name not in space:
            self._size += 1
        space[name] = entry
        self.schedule(namespace, name, entry)
        self.sweep(now)

    def schedule(self, namespace: str, name: str, entry: _Entry) -> None:
        """Record when `entry` expires so the sweep can find it."""
        if entry.expires_at is None:
            return
        heapq.heappush(self._expiries, (entry.expires_at, namespace, name))
        if len(self._expiries) > 2 * self._size + 64:
            # Rewriting keys with TTLs leaves stale heap items; rebuild so the heap stays O(size).
            self._expiries = [
                (e.expires_at, ns, n)
                for ns, space in self.spaces.items()
                for n, e in space.items()
                if e.expires_at is not None
            ]
            heapq.heapify(self._expiries)

    def drop(self, namespace: str, name: str) -> _Entry | None:
        """Remove `name` whatever its expiry and return it."""
        space = self.spaces.get(namespace)
        if space is None or name not in space:
            return None
        entry = space.pop(name)
        self._size -= 1
        if not space:
            del self.spaces[namespace]
        return entry

    def sweep(self, now: float) -> None:
        """Remove at most `sweep_batch` expired entries, oldest expiry first."""
        heap = self._expiries
        for _ in range(self.sweep_batch):
            if not heap or heap[0][0] > now:
                return
            expires_at, namespace, name = heapq.heappop(heap)
            entry = self.spaces.get(namespace, {}).get(name)
            if entry is not None and entry.expires_at == expires_at:
                self.drop(namespace, name)


# MemoryCache instances share this store unless given another, so that two instances for the same
# namespace in one process see the same values and exclude each other with their locks.
_default_store = MemoryStore()


class MemoryCache(Cache):
    """A thread-safe cache in this process's memory; locks exclude threads, not processes."""

    def __init__(self, namespace: str, *, store: MemoryStore | None = None) -> None:
        super().__init__(namespace)
        self.store = _default_store if store is None else store

    def _get_raw(self, name: str) -> str | None:
        store = self.store
        with store.mutex:
            entry = store.live(self.namespace, name, store.clock())
            return None if entry is None else entry.raw

    def _set_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        store = self.store
        with store.mutex:
            now = store.clock()
            store.put(self.namespace, name, _Entry(raw, None if ttl is None else now + ttl), now)
            return True

    def _add_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        store = self.store
        with store.mutex:
            now = store.clock()
            if store.live(self.namespace, name, now) is not None:
                return False
            store.put(self.namespace, name, _Entry(raw, None if ttl is None else now + ttl), now)
            return True

    def _incr(self, name: str, amount: int) -> int:
        store = self.store
        with store.mutex:
            now = store.clock()
            entry = store.live(self.namespace, name, now)
            current: Any = 0 if entry is None else decode_value(name, entry.raw)
            result = add_int64(name, current, amount)
            # Like Redis INCRBY, an existing key keeps its TTL.
            expires_at = None if entry is None else entry.expires_at
            store.put(self.namespace, name, _Entry(str(result), expires_at), now)
            return result

    def _expire(self, name: str, ttl: float) -> bool:
        store = self.store
        with store.mutex:
            now = store.clock()
            entry = store.live(self.namespace, name, now)
            if entry is None:
                return False
            store.put(self.namespace, name, _Entry(entry.raw, now + ttl), now)
            return True

    def _exists(self, name: str) -> bool:
        store = self.store
        with store.mutex:
            return store.live(self.namespace, name, store.clock()) is not None

    def _delete(self, name: str) -> bool:
        store = self.store
        with store.mutex:
            now = store.clock()
            return (
                store.live(self.namespace, name, now) is not None
                and store.drop(self.namespace, name) is not None
            )

    def _keys(self, pattern: str) -> Iterable[str]:
        store = self.store
        with store.mutex:
            now = store.clock()
            space = store.spaces.get(self.namespace, {})
            return [n for n, e in space.items() if e.expires_at is None or e.expires_at > now]

    def _ttl(self, name: str) -> float | None:
        store = self.store
        with store.mutex:
            now = store.clock()
            entry = store.live(self.namespace, name, now)
            if entry is None or entry.expires_at is None:
                return None
            return entry.expires_at - now

    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        store = self.store
        with store.mutex:
            now = store.clock()
            key = (self.namespace, name)
            held = store.locks.get(key)
            if held is not None and held.expires_at > now:
                return False
            store.locks[key] = _LockEntry(token, now + ttl)
            return True

    def _unlock(self, name: str, token: str) -> bool:
        store = self.store
        with store.mutex:
            key = (self.namespace, name)
            held = store.locks.get(key)
            if held is None or held.token != token:
                return False
            del store.locks[key]
            store.released.notify_all()
            return held.expires_at > store.clock()

    def _wait_for_lock(self, name: str, seconds: float) -> None:
        # Wake as soon as a holder releases instead of sleeping the whole poll interval.
        with self.store.released:
            self.store.released.wait(seconds)
