"""``caches.Meta``: the base of cache elements."""

from __future__ import annotations

from ..element import Element

__all__ = ["CacheElement"]


class CacheElement(Element):
    """A cache element: a key-value store with TTLs and locks."""
