"""The schema of ``databases.SqliteType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from jitlite.runtime.schema import ConfigModel, NonEmptyStr

__all__ = ["Config"]


class Config(ConfigModel):
    """Where the database lives."""

    path: NonEmptyStr = Field("appData/jitlite.sqlite3", description="The database file, relative to the app folder")
    # A URL may carry a password, so it is a secret (masked by `jitlite show`).
    url: SecretStr = Field(
        SecretStr(""),
        description="A database URL that replaces the file when set (sqlite:/// or postgresql://); "
        'this is how "{{DATABASE_URL}}" moves databases.Default',
    )
