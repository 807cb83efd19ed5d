"""SQLite cache backend: one WAL-mode file shared by the processes of one machine."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..runtime import clock as runtime_clock
from ..runtime.privatefiles import private_file
from ..runtime.sqlite_tx import immediate_transaction
from .base import Cache, add_int64, check_ttl, decode_value

__all__ = ["SqliteCache"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jitlite_cache (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at REAL,
        PRIMARY KEY (namespace, name)
    ) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS jitlite_cache_expiry
        ON jitlite_cache (expires_at) WHERE expires_at IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS jitlite_cache_locks (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        token TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (namespace, name)
    ) WITHOUT ROWID""",
)

# Rows whose expiry is in the past are invisible; this predicate selects the visible ones.
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the base class cannot) and knows its process."""

    pid: int


class SqliteCache(Cache):
    """A cache in one SQLite file, safe for many threads and processes on one machine.

    Each thread gets its own connection; writes that read first (incr, locks) run in
    IMMEDIATE transactions so they are atomic across processes. Expiry times are wall-clock
    epoch seconds because monotonic clocks are not comparable across reboots, and the file
    outlives processes. Expired rows are ignored on read and purged every `purge_interval` s.
    The time comes from `clock`, by default the app's one clock (`jitlite.runtime.clock`), read
    at every call: a test that freezes or moves that clock expires entries and locks accordingly.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        namespace: str,
        *,
        busy_timeout: float = 5.0,
        purge_interval: float = 60.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(namespace)
        if str(path) in ("", ":memory:") or str(path).startswith("file::memory:"):
            # Every thread has its own connection, so an in-memory database would not be shared.
            raise ValueError("SqliteCache needs a file path; use MemoryCache for an in-memory cache")
        self.path = Path(path)
        self.busy_timeout = check_ttl(busy_timeout, "busy_timeout")
        self.purge_interval = check_ttl(purge_interval, "purge_interval")
        self.clock: Callable[[], float] = runtime_clock.now if clock is None else clock
        self._local = threading.local()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        # Connections inherited through fork(): SQLite forbids using them in the child, and closing
        # them there can drop POSIX locks the child's own connections hold, so they are kept unused.
        self._inherited: list[_Connection] = []
        self._next_purge = self.clock() + self.purge_interval
        # Cached tokens are secrets: the file is its owner's only (SQLite gives -wal/-shm the same mode).
        private_file(self.path)
        conn = self._conn()
        # WAL lets readers proceed while one process writes; the mode is stored in the file.
        conn.execute("PRAGMA journal_mode=WAL")
        with self._write() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    # -- connections and transactions ----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """Return this thread's connection, opening one if needed (also after a fork)."""
        pid = os.getpid()
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if conn.pid == pid:
                return conn
            self._inherited.append(conn)
        # isolation_level=None: no implicit transactions; writes that need one say BEGIN IMMEDIATE.
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,  # only so close() may close other threads' connections
            factory=_Connection,
        )
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        # NORMAL is durable against process crashes in WAL mode, which is all a cache needs.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.pid = pid
        self._local.conn = conn
        with self._connections_lock:
            self._connections.add(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block in an IMMEDIATE transaction: the write lock is taken before any read."""
        with immediate_transaction(self._conn()) as conn:
            yield conn

    def _maybe_purge(self, now: float) -> None:
        """Delete expired rows of all namespaces if the purge interval has passed."""
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval
        with self._write() as conn:
            conn.execute("DELETE FROM jitlite_cache WHERE expires_at <= ?", (now,))
            conn.execute("DELETE FROM jitlite_cache_locks WHERE expires_at <= ?", (now,))

    def close(self) -> None:
        """Close the connections of all threads; the cache reopens them on next use."""
        pid = os.getpid()
        with self._connections_lock:
            connections = [conn for conn in self._connections if conn.pid == pid]
            self._connections.clear()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # -- primitives ------------------------------------------------------------------------------

    def _ping(self) -> bool:
        return self._conn().execute("SELECT 1 FROM jitlite_cache LIMIT 1").fetchall() is not None

    def _get_raw(self, name: str) -> str | None:
        row = (
            self._conn()
            .execute(
                f"SELECT value FROM jitlite_cache WHERE namespace = ? AND name = ? AND {_LIVE}",
                (self.namespace, name, self.clock()),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def _set_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        now = self.clock()
        self._conn().execute(
            "INSERT INTO jitlite_cache (namespace, name, value, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, name) DO UPDATE SET value = excluded.value, "
            "expires_at = excluded.expires_at",
            (self.namespace, name, raw, None if ttl is None else now + ttl),
        )
        self._maybe_purge(now)
        return True

    def _add_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        now = self.clock()
        # One statement, atomic on its own: insert, or take over the existing row only if it has
        # expired; a live row is left alone and the statement changes nothing (rowcount 0).
        added = (
            self._conn()
            .execute(
                "INSERT INTO jitlite_cache (namespace, name, value, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, name) DO UPDATE SET value = excluded.value, "
                "expires_at = excluded.expires_at "
                "WHERE jitlite_cache.expires_at IS NOT NULL AND jitlite_cache.expires_at <= ?",
                (self.namespace, name, raw, None if ttl is None else now + ttl, now),
            )
            .rowcount
        )
        self._maybe_purge(now)
        return added > 0

    def _incr(self, name: str, amount: int) -> int:
        now = self.clock()
        with self._write() as conn:
            row = conn.execute(
                f"SELECT value, expires_at FROM jitlite_cache WHERE namespace = ? AND name = ? AND {_LIVE}",
                (self.namespace, name, now),
            ).fetchone()
            current: Any = 0 if row is None else decode_value(name, row[0])
            result = add_int64(name, current, amount)
            # Like Redis INCRBY, an existing key keeps its TTL; a missing or expired one gets none.
            conn.execute(
                "INSERT OR REPLACE INTO jitlite_cache (namespace, name, value, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (self.namespace, name, str(result), None if row is None else row[1]),
            )
        self._maybe_purge(now)
        return result

    def _expire(self, name: str, ttl: float) -> bool:
        now = self.clock()
        cursor = self._conn().execute(
            f"UPDATE jitlite_cache SET expires_at = ? WHERE namespace = ? AND name = ? AND {_LIVE}",
            (now + ttl, self.namespace, name, now),
        )
        return cursor.rowcount > 0

    def _exists(self, name: str) -> bool:
        row = (
            self._conn()
            .execute(
                f"SELECT 1 FROM jitlite_cache WHERE namespace = ? AND name = ? AND {_LIVE}",
                (self.namespace, name, self.clock()),
            )
            .fetchone()
        )
        return row is not None

    def _delete(self, name: str) -> bool:
        with self._write() as conn:
            live = conn.execute(
                f"DELETE FROM jitlite_cache WHERE namespace = ? AND name = ? AND {_LIVE}",
                (self.namespace, name, self.clock()),
            ).rowcount
            # An expired row is invisible already; remove it too rather than wait for the purge.
            conn.execute("DELETE FROM jitlite_cache WHERE namespace = ? AND name = ?", (self.namespace, name))
        return live > 0

    def _keys(self, pattern: str) -> Iterable[str]:
        rows = self._conn().execute(
            f"SELECT name FROM jitlite_cache WHERE namespace = ? AND {_LIVE}",
            (self.namespace, self.clock()),
        )
        return [str(row[0]) for row in rows]

    def _ttl(self, name: str) -> float | None:
        now = self.clock()
        row = (
            self._conn()
            .execute(
                f"SELECT expires_at FROM jitlite_cache WHERE namespace = ? AND name = ? AND {_LIVE}",
                (self.namespace, name, now),
            )
            .fetchone()
        )
        if row is None or row[0] is None:
            return None
        return float(row[0]) - now

    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        now = self.clock()
        with self._write() as conn:
            # Insert the lock row, or take over the existing one only if it has expired.
            taken = conn.execute(
                "INSERT INTO jitlite_cache_locks (namespace, name, token, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, name) DO UPDATE SET token = excluded.token, "
                "expires_at = excluded.expires_at WHERE jitlite_cache_locks.expires_at <= ?",
                (self.namespace, name, token, now + ttl, now),
            ).rowcount
        if taken:
            self._maybe_purge(now)
        return taken > 0

    def _unlock(self, name: str, token: str) -> bool:
        now = self.clock()
        with self._write() as conn:
            # Compare-and-delete: a lock row with another token belongs to whoever took over.
            held = conn.execute(
                "DELETE FROM jitlite_cache_locks WHERE namespace = ? AND name = ? AND token = ? "
                "AND expires_at > ?",
                (self.namespace, name, token, now),
            ).rowcount
            if not held:
                # Our own row may still be there, expired but not taken over: clean it up.
                conn.execute(
                    "DELETE FROM jitlite_cache_locks WHERE namespace = ? AND name = ? AND token = ?",
                    (self.namespace, name, token),
                )
        return held > 0
