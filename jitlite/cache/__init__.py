"""Cache backends with JitAi's cache API: in-process memory, a shared SQLite file, and Redis.

`RedisCache` imports redis-py only when instantiated, so the extra is needed only to use it.
"""

from __future__ import annotations

from .base import Cache, CacheError, CacheLock, LockTimeout
from .memory_cache import MemoryCache, MemoryStore
from .redis_cache import RedisCache
from .sqlite_cache import SqliteCache

__all__ = [
    "Cache",
    "CacheError",
    "CacheLock",
    "LockTimeout",
    "MemoryCache",
    "MemoryStore",
    "RedisCache",
    "SqliteCache",
]
