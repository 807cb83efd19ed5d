"""``caches.MemoryType``: an in-process cache (thread-safe, TTLs, process-wide locks)."""

from __future__ import annotations

from jitlite.cache import Cache, MemoryCache, MemoryStore
from jitlite.meta.caches import CacheElement

__all__ = ["MemoryCacheType"]


class MemoryCacheType(CacheElement):
    """A cache held in this process's memory; each element has its own store.

    Other processes serving the same app do not see it: choose it only for one process.
    """

    sharedAcrossProcesses = False

    def openBackend(self) -> Cache:
        """Open a memory store of this element's own."""
        return MemoryCache(self.app.appId, store=MemoryStore())
