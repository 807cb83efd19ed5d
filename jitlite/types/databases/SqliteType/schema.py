"""The schema of ``databases.SqliteType`` instances (loaded on its own: absolute imports).

Two forms are accepted: jitlite's (``path``, ``url``, ``synchronous``) and JitAi's::

    {"dbType": "sqlite", "dbAlias": "Default", "dbConfig": {"database": "appData/database/Default/sqlite.db"}}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from jitlite.runtime.schema import ConfigModel, NonEmptyStr, invalid

__all__ = ["Config", "SqliteDbConfig"]


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class SqliteDbConfig(ConfigModel):
    """JitAi's ``dbConfig`` of a SQLite database."""

    database: NonEmptyStr = Field(description="The database file, relative to the app folder (or absolute)")


class Config(ConfigModel):
    """Where the database lives, and how hard a commit is pushed to disk."""

    path: NonEmptyStr = Field("appData/jitlite.sqlite3", description="The database file, relative to the app folder")
    # A URL may carry a password, so it is a secret (masked by `jitlite show`).
    url: SecretStr = Field(
        SecretStr(""),
        description="A database URL that replaces the file when set (sqlite:/// or postgresql://); "
        'this is how "{{DATABASE_URL}}" moves databases.Default',
    )
    synchronous: Annotated[Literal["NORMAL", "FULL"], BeforeValidator(_upper)] = Field(
        "NORMAL",
        description="SQLite's PRAGMA synchronous (WAL mode). NORMAL: never corrupts the file and survives a "
        "process crash, but power loss or an OS crash can lose the last commits (writes that ask to be durable, "
        "such as WeCom authorisation callbacks, are synced all the same). FULL: every commit is synced and "
        "survives power loss",
    )
    dbType: Literal["sqlite"] | None = Field(None, description='JitAi\'s database kind: "sqlite" for this Type')
    dbAlias: str | None = Field(None, description="JitAi's alias of the database (kept, not used)")
    dbConfig: SqliteDbConfig | None = Field(None, description='JitAi\'s form of the file: {"database": "appData/…"}')

    @model_validator(mode="after")
    def _one_file(self) -> Config:
        if self.dbConfig is not None and "path" in self.model_fields_set and self.path != self.dbConfig.database:
            raise invalid("names the database file twice (path and dbConfig.database) with different values",
                          "keep one of them")
        return self

    @property
    def file(self) -> str:
        """Return the database file as configured (dbConfig.database, else path)."""
        return self.dbConfig.database if self.dbConfig is not None else self.path
