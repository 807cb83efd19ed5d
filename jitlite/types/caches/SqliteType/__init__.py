"""``caches.SqliteType``: a cache in an SQLite file, shared by the processes of one machine."""

from __future__ import annotations

from jitlite.cache import Cache, SqliteCache
from jitlite.meta.caches import CacheElement

from .schema import Config

__all__ = ["SqliteCacheType"]


class SqliteCacheType(CacheElement):
    """A cache in one SQLite file (WAL); its locks exclude other processes too."""

    config: Config

    def openBackend(self) -> Cache:
        """Open (creating if needed) the cache file."""
        path = self.app.root / self.config.path
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteCache(str(path), self.app.appId)
