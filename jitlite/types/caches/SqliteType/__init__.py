"""``caches.SqliteType``: a cache in an SQLite file, shared by the processes of one machine."""

from __future__ import annotations

from jitlite.cache import Cache, SqliteCache
from jitlite.meta.caches import CacheElement

from .schema import Config

__all__ = ["SqliteCacheType"]


class SqliteCacheType(CacheElement):
    """A cache in one SQLite file (WAL), shared by the app's processes; its locks exclude them too.

    The file is ``directory`` (JitAi's name) or ``path`` in the business config, relative to the app.
    """

    config: Config

    def openBackend(self) -> Cache:
        """Open (creating if needed) the cache file."""
        path = self.app.root / self.config.file
        if path.is_dir():  # JitAi's "directory" may name a folder: the file goes inside it
            path = path / "cache.sqlite3"
        # SqliteCache creates the folder 0700 and the file 0600 (cached tokens are secrets).
        return SqliteCache(str(path), self.app.appId)
