"""``databases.SqliteType``: the embedded SQLite database (the default)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from jitlite.meta.databases import Database
from jitlite.storage import create_pg_engine, create_sqlite_engine

from .schema import Config

__all__ = ["SqliteDatabase"]


class SqliteDatabase(Database):
    """An SQLite file under the app folder (``path``, or JitAi's ``dbConfig.database``), or what ``url`` names.

    The file is created 0600 in a folder created 0700. ``synchronous`` (NORMAL or FULL) is passed
    to SQLite: with NORMAL the last commits can be lost on power loss, except durable writes (the
    callback inbox asks for one for every callback that could not be had again); FULL syncs every commit.
    """

    config: Config

    def createEngine(self) -> Engine:
        """Open the file (creating its folder), or the URL when one is set."""
        url = self.config.url.get_secret_value().strip()
        if url.startswith(("postgresql", "postgres:")):
            return create_pg_engine(url)
        synchronous = self.config.synchronous
        if url.startswith("sqlite:///"):
            return create_sqlite_engine(url.removeprefix("sqlite:///"), synchronous=synchronous)
        if url:
            raise ValueError(f"{self.fullName}: url must start with sqlite:/// or postgresql://")
        file = self.config.file
        return create_sqlite_engine(file if file == ":memory:" else self.app.root / file, synchronous=synchronous)
