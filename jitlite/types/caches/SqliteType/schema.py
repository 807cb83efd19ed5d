"""The schema of ``caches.SqliteType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field

from jitlite.runtime.schema import ConfigModel, NonEmptyStr

__all__ = ["Config"]


class Config(ConfigModel):
    """Where the cache file lives."""

    path: NonEmptyStr = Field("appData/cache.sqlite3", description="The cache file, relative to the app folder")
