"""The schema of ``caches.SqliteType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field, model_validator

from jitlite.runtime.schema import ConfigModel, NonEmptyStr, invalid

__all__ = ["Config"]


class Config(ConfigModel):
    """Where the cache file lives: ``directory`` (JitAi's name) or ``path``, relative to the app folder."""

    path: NonEmptyStr = Field("appData/cache.sqlite3", description="The cache file, relative to the app folder")
    directory: NonEmptyStr | None = Field(
        None, description='JitAi\'s name for the cache file: "appData/caches/DefaultCache/sqlite.db" (relative to '
        "the app folder, or absolute); an existing folder holds the file as cache.sqlite3")

    @model_validator(mode="after")
    def _one_file(self) -> Config:
        if self.directory is not None and "path" in self.model_fields_set and self.path != self.directory:
            raise invalid("names the cache file twice (path and directory) with different values", "keep one of them")
        return self

    @property
    def file(self) -> str:
        """Return the cache file as configured (directory, else path)."""
        return self.directory if self.directory is not None else self.path
