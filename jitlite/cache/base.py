"""Abstract cache API shared by the memory, SQLite and Redis backends."""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from fnmatch import fnmatchcase
from types import TracebackType
from typing import Any

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Cache",
    "CacheError",
    "CacheLock",
    "LockTimeout",
    "add_int64",
    "check_lock_timeout",
    "check_name",
    "check_namespace",
    "check_ttl",
    "decode_value",
    "encode_value",
]

logger = logging.getLogger("jitlite.cache")

# Redis counters are signed 64-bit; the other backends enforce the same range so
# that switching backends never changes what `incr` accepts.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Namespaces become key prefixes ("<ns>:<name>"); a restricted alphabet without ":" keeps
# prefixes unambiguous and free of glob metacharacters, so one namespace can never see another's keys.
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.\-]+")


class CacheError(Exception):
    """Base class of the errors raised by jitlite caches."""


class LockTimeout(CacheError, TimeoutError):
    """Raised when a cache lock cannot be acquired within its timeout."""


def check_name(name: object) -> str:
    """Return `name` if it is a valid cache key name, else raise ValueError."""
    if not isinstance(name, str):
        raise ValueError(f"cache key name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("cache key name must not be empty")
    if _CONTROL_CHARS.search(name):
        raise ValueError(f"cache key name {name!r} contains control characters")
    return name


def check_namespace(namespace: object) -> str:
    """Return `namespace` if it is a valid namespace (app id), else raise ValueError."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.fullmatch(namespace):
        raise ValueError(
            f"cache namespace must be a non-empty str of letters, digits, '_', '.' or '-', got {namespace!r}"
        )
    return namespace


def check_ttl(ttl: object, what: str = "ttl") -> float:
    """Return `ttl` as a float if it is a positive finite number of seconds, else raise ValueError."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise ValueError(f"{what} must be a number of seconds, not {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"{what} must be a positive finite number of seconds, got {ttl!r}")
    return float(ttl)


def check_lock_timeout(timeout: object) -> float | None:
    """Return a lock's wait as a float (None: without limit, 0: one try), or raise ValueError."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError(f"lock timeout must be None or a number >= 0, got {timeout!r}")
    return float(timeout)


def encode_value(name: str, value: Any) -> str:
    """Encode `value` as compact JSON, raising TypeError/ValueError for what JSON cannot hold."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"cache value for {name!r} is not JSON-serialisable: {exc}") from exc
    except ValueError as exc:  # NaN and infinities have no JSON form
        raise ValueError(f"cache value for {name!r} is not JSON-serialisable: {exc}") from exc


def decode_value(name: str, raw: str | bytes) -> Any:
    """Decode a stored JSON value, naming the key if it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"cache value for {name!r} is not valid JSON: {exc}") from exc


def add_int64(name: str, current: Any, amount: int) -> int:
    """Return `current + amount` with Redis INCRBY rules: 64-bit integers only (callers pass 0 if missing)."""
    if type(current) is not int or not INT64_MIN <= current <= INT64_MAX:
        raise TypeError(f"cannot incr cache key {name!r}: its value is not a 64-bit integer")
    result = current + amount
    if not INT64_MIN <= result <= INT64_MAX:
        raise OverflowError(f"incr of cache key {name!r} would overflow a 64-bit integer")
    return result


def _seconds(ts: float | None, ttl: float | None) -> float | None:
    """Return the one TTL given as JitAi's `ts` or jitlite's `ttl`."""
    if ts is not None and ttl is not None:
        raise ValueError("give the expiry once: ts (JitAi's name) or ttl, not both")
    return ts if ts is not None else ttl


class CacheLock:
    """A lock held in a cache; use it as a context manager (`with cache.lock(name, ttl): ...`).

    The lock is not re-entrant and is owned by this object (a random token), not by a thread.
    It expires `ttl` seconds after acquisition so that a crashed holder cannot block others forever.
    """

    def __init__(self, cache: Cache, name: str, ttl: float, timeout: float | None, poll: float) -> None:
        self.cache = cache
        self.name = name
        self.ttl = ttl
        self.timeout = timeout
        self.poll = poll
        self.token: str | None = None

    @property
    def held(self) -> bool:
        """Return whether this object acquired the lock and has not released it (expiry aside)."""
        return self.token is not None

    def acquire(self) -> CacheLock:
        """Acquire the lock, waiting up to `timeout` seconds, or raise LockTimeout."""
        if self.token is not None:
            raise RuntimeError(f"cache lock {self.name!r} is already held by this CacheLock")
        token = secrets.token_hex(16)
        # The wait is measured on the real monotonic clock, not the cache's (possibly fake) clock.
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while not self.cache._try_lock(self.name, token, self.ttl):
            remaining = math.inf if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"timed out after {self.timeout:g}s waiting for cache lock {self.name!r} "
                    f"in namespace {self.cache.namespace!r}"
                )
            self.cache._wait_for_lock(self.name, min(self.poll, remaining))
        self.token = token
        return self

    def release(self) -> bool:
        """Release the lock; return False (and log a warning) if it had expired meanwhile."""
        if self.token is None:
            raise RuntimeError(f"cache lock {self.name!r} is not held by this CacheLock")
        token, self.token = self.token, None
        if self.cache._unlock(self.name, token):
            return True
        logger.warning(
            "cache lock %r in namespace %r expired (ttl %gs) before it was released, so the block "
            "it guarded may not have run exclusively; a lock taken since by another holder was kept",
            self.name,
            self.cache.namespace,
            self.ttl,
        )
        return False

    def __enter__(self) -> CacheLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "not held"
        return f"<CacheLock {self.name!r} ns={self.cache.namespace!r} ttl={self.ttl:g}s {state}>"


class Cache(ABC):
    """A namespaced key-value cache of JSON values with TTLs, counters and locks (JitAi's cache API).

    Public methods validate and JSON-encode; backends implement the `_`-prefixed primitives.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = check_namespace(namespace)

    # -- public API (JitAi names) ------------------------------------------------------------

    def get(self, name: str) -> Any | None:
        """Return the value stored under `name`, or None if it is missing or expired."""
        raw = self._get_raw(check_name(name))
        return None if raw is None else decode_value(name, raw)

    def set(self, name: str, value: Any, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store `value` as JSON under `name`, replacing any value and TTL; return True once stored.

        It expires after `ts` seconds (JitAi's name; `ttl=` is the same), or never.
        """
        check_name(name)
        raw = encode_value(name, value)
        seconds = _seconds(ts, ttl)
        return self._set_raw(name, raw, None if seconds is None else check_ttl(seconds))

    def add(self, name: str, value: Any, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store `value` as JSON under `name` only if it holds no unexpired value; return whether it stored.

        Atomic across threads and processes sharing the backend: of concurrent adds of one name,
        exactly one returns True. An expired value counts as absent and is replaced. The new value
        expires after `ts` seconds (JitAi's name; `ttl=` is the same), or never.
        """
        check_name(name)
        raw = encode_value(name, value)
        seconds = _seconds(ts, ttl)
        return self._add_raw(name, raw, None if seconds is None else check_ttl(seconds))

    def getNumeric(self, name: str) -> int | float:
        """Return the number stored under `name`, 0 if missing; raise TypeError for non-numbers."""
        value = self.get(name)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"cache value for {name!r} is a {type(value).__name__}, not a number")
        return value

    def setNumeric(self, name: str, n: int | float = 0, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Store the number `n` under `name` (expiring after `ts` seconds, if given); return True."""
        if isinstance(n, bool) or not isinstance(n, (int, float)):
            raise ValueError(f"setNumeric needs a number for {name!r}, not {type(n).__name__}")
        if isinstance(n, int) and not INT64_MIN <= n <= INT64_MAX:
            raise ValueError(f"setNumeric value {n} for {name!r} does not fit a 64-bit integer")
        return self.set(name, n, ts, ttl=ttl)

    def incr(self, name: str, amount: int = 1) -> int:
        """Atomically add `amount` to the integer under `name` (missing counts as 0) and return it."""
        check_name(name)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValueError(f"incr amount must be an int, not {type(amount).__name__}")
        if not INT64_MIN <= amount <= INT64_MAX:
            raise ValueError(f"incr amount {amount} does not fit a 64-bit integer")
        return self._incr(name, amount)

    def expire(self, name: str, ts: float | None = None, *, ttl: float | None = None) -> bool:
        """Make `name` expire `ts` seconds from now (`ttl=` is the same); return False if it does not exist."""
        seconds = _seconds(ts, ttl)
        if seconds is None:
            raise ValueError("expire needs ts: the ttl in seconds until the value expires")
        return self._expire(check_name(name), check_ttl(seconds))

    def exists(self, name: str) -> bool:
        """Return whether `name` holds an unexpired value."""
        return self._exists(check_name(name))

    def delete(self, name: str) -> bool:
        """Delete `name`; return whether an unexpired value was deleted."""
        return self._delete(check_name(name))

    def keys(self, pattern: str = "*") -> list[str]:
        """Return the sorted names in this namespace matching the glob `pattern` (fnmatch rules)."""
        if not isinstance(pattern, str):
            raise ValueError(f"keys pattern must be a str, not {type(pattern).__name__}")
        return sorted({name for name in self._keys(pattern) if fnmatchcase(name, pattern)})

    def ttl(self, name: str) -> float | None:
        """Return the seconds until `name` expires, or None if it is missing or never expires."""
        return self._ttl(check_name(name))

    def lock(self, name: str, ttl: float, *, timeout: float | None = 10.0, poll: float = 0.05) -> CacheLock:
        """Return an unacquired lock on `name` that expires `ttl` seconds after acquisition.

        `timeout` is how long acquisition waits (None: forever, 0: one attempt); `poll` is the
        retry interval. Lock names live apart from value names: locking never creates a key.
        """
        check_name(name)
        ttl = check_ttl(ttl, "lock ttl")
        timeout = check_lock_timeout(timeout)
        poll = check_ttl(poll, "lock poll interval")
        return CacheLock(self, name, ttl, timeout, poll)

    def ping(self) -> bool:
        """Return whether the backend answers (False, and a logged warning, when it does not)."""
        try:
            return self._ping()
        except Exception as exc:  # any driver error means "not reachable"; the caller decides what to do
            logger.warning("cache %r did not answer a ping: %s: %s", self.namespace, type(exc).__name__, exc)
            return False

    def close(self) -> None:  # noqa: B027 - optional hook: backends without resources keep this
        """Release resources held by the backend (connections); the default holds none."""

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} namespace={self.namespace!r}>"

    # -- backend primitives: names are validated, values are JSON text --------------------------

    @abstractmethod
    def _get_raw(self, name: str) -> str | bytes | None:
        """Return the JSON text under `name`, or None if missing or expired."""

    @abstractmethod
    def _set_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        """Store JSON text under `name` with an optional TTL, replacing value and TTL."""

    @abstractmethod
    def _add_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        """Store JSON text under `name` only if it holds no unexpired value, atomically; return whether stored."""

    @abstractmethod
    def _incr(self, name: str, amount: int) -> int:
        """Atomically add `amount` to the 64-bit integer under `name`, keeping its TTL."""

    @abstractmethod
    def _expire(self, name: str, ttl: float) -> bool:
        """Set the TTL of an existing `name`; return False if it is missing."""

    @abstractmethod
    def _exists(self, name: str) -> bool:
        """Return whether `name` holds an unexpired value."""

    @abstractmethod
    def _delete(self, name: str) -> bool:
        """Delete `name`; return whether an unexpired value was deleted."""

    @abstractmethod
    def _keys(self, pattern: str) -> Iterable[str]:
        """Yield unexpired names of this namespace; a superset of `pattern`'s matches is fine."""

    @abstractmethod
    def _ttl(self, name: str) -> float | None:
        """Return the remaining TTL of `name` in seconds, or None."""

    @abstractmethod
    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        """Take the lock `name` for `token` if it is free or expired; return whether it was taken."""

    @abstractmethod
    def _unlock(self, name: str, token: str) -> bool:
        """Delete the lock `name` only if `token` holds it; return whether it was held and unexpired."""

    def _ping(self) -> bool:
        """Check that the backend answers; backends with a server or a file override this."""
        return True

    def _wait_for_lock(self, name: str, seconds: float) -> None:
        """Wait before the next acquisition attempt; backends that can be notified override this."""
        time.sleep(seconds)
