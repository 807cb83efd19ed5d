"""Redis cache backend (needs the optional `redis` package: install jitlite[redis])."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import Cache

if TYPE_CHECKING:
    import redis

__all__ = ["RedisCache"]

# Compare-and-delete: only the holder of the token may delete the lock key.
_UNLOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""

# Characters whose glob meaning differs between Redis MATCH and fnmatch ("?" is one byte in
# Redis but one character in fnmatch); patterns with them are filtered client-side only.
_NON_PORTABLE_GLOB = frozenset("?[]\\")


def _import_redis() -> Any:
    """Import redis-py, or raise an ImportError that says how to install it."""
    try:
        import redis
    except ImportError as exc:
        raise ImportError("RedisCache needs the 'redis' package: install jitlite[redis]") from exc
    return redis


def _ms(seconds: float) -> int:
    """Convert seconds to whole milliseconds for PX/PEXPIRE, never rounding a TTL down to 0."""
    return max(1, math.ceil(seconds * 1000))


def _text(value: str | bytes) -> str:
    """Return a Redis reply as str whether or not the client decodes responses."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


class RedisCache(Cache):
    """A cache in Redis, shared by any number of processes and machines.

    Values are stored under "<namespace>:<name>", locks under "<namespace>@lock:<name>"
    (namespaces contain neither ":" nor "@", so the two never collide).

    TTLs are kept by the Redis server on its own clock, so they do not follow
    `jitlite.runtime.clock`: a test that freezes or moves time must wait for real, or use the
    memory or SQLite cache, whose expiries follow that clock. (Token refresh still does: the token
    manager compares its own refresh time, stored with the token, against the clock.)
    """

    def __init__(self, url_or_client: str | redis.Redis, namespace: str) -> None:
        super().__init__(namespace)
        redis_module = _import_redis()
        if isinstance(url_or_client, str):
            self.client: redis.Redis = redis_module.Redis.from_url(url_or_client)
            self._owns_client = True
        else:
            self.client = url_or_client
            self._owns_client = False
        self._prefix = f"{namespace}:"
        self._lock_prefix = f"{namespace}@lock:"
        self._unlock_script = self.client.register_script(_UNLOCK_SCRIPT)
        self._response_error: type[Exception] = redis_module.ResponseError

    def _key(self, name: str) -> str:
        return self._prefix + name

    def close(self) -> None:
        """Close the client if this cache created it from a URL."""
        if self._owns_client:
            self.client.close()

    def _ping(self) -> bool:
        return bool(self.client.ping())

    def _get_raw(self, name: str) -> str | bytes | None:
        return self.client.get(self._key(name))

    def _set_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        px = None if ttl is None else _ms(ttl)
        return bool(self.client.set(self._key(name), raw, px=px))

    def _add_raw(self, name: str, raw: str, ttl: float | None) -> bool:
        # SET NX is atomic on the server; Redis drops expired keys itself, so NX sees them as absent.
        px = None if ttl is None else _ms(ttl)
        return bool(self.client.set(self._key(name), raw, nx=True, px=px))

    def _incr(self, name: str, amount: int) -> int:
        try:
            return self.client.incrby(self._key(name), amount)
        except self._response_error as exc:
            if "overflow" in str(exc):
                raise OverflowError(f"incr of cache key {name!r} would overflow a 64-bit integer") from exc
            raise TypeError(f"cannot incr cache key {name!r}: its value is not a 64-bit integer") from exc

    def _expire(self, name: str, ttl: float) -> bool:
        return bool(self.client.pexpire(self._key(name), _ms(ttl)))

    def _exists(self, name: str) -> bool:
        return bool(self.client.exists(self._key(name)))

    def _delete(self, name: str) -> bool:
        return bool(self.client.delete(self._key(name)))

    def _keys(self, pattern: str) -> Iterable[str]:
        # Let the server filter when its glob agrees with fnmatch; Cache.keys() re-filters anyway.
        match = pattern if not _NON_PORTABLE_GLOB.intersection(pattern) else "*"
        start = len(self._prefix)
        # SCAN, never KEYS: it does not block the server on a large keyspace. It may repeat keys.
        for key in self.client.scan_iter(match=self._prefix + match, count=1000):
            yield _text(key)[start:]

    def _ttl(self, name: str) -> float | None:
        ms = self.client.pttl(self._key(name))
        # -2: no such key, -1: no expiry.
        return None if ms < 0 else ms / 1000

    def _try_lock(self, name: str, token: str, ttl: float) -> bool:
        return bool(self.client.set(self._lock_prefix + name, token, nx=True, px=_ms(ttl)))

    def _unlock(self, name: str, token: str) -> bool:
        return bool(self._unlock_script(keys=[self._lock_prefix + name], args=[token]))
