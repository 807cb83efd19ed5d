"""``caches.RedisType``: a cache in Redis, shared by every process that reaches it."""

from __future__ import annotations

from jitlite.cache import Cache, RedisCache
from jitlite.meta.caches import CacheElement

from .schema import Config

__all__ = ["RedisCacheType"]


class RedisCacheType(CacheElement):
    """A cache in Redis; locks are SET NX PX with a token and a compare-and-delete release."""

    config: Config

    def openBackend(self) -> Cache:
        """Connect to Redis (lazily: the first command opens the connection)."""
        return RedisCache(self.config.connection_url(), self.app.appId)
