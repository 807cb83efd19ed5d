"""``databases.SqliteType``: the embedded SQLite database (the default)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from jitlite.meta.databases import Database
from jitlite.storage import create_pg_engine, create_sqlite_engine

from .schema import Config

__all__ = ["SqliteDatabase"]


class SqliteDatabase(Database):
    """An SQLite file under the app folder, or the database its ``url`` names."""

    config: Config

    def createEngine(self) -> Engine:
        """Open the file (creating its folder), or the URL when one is set."""
        url = self.config.url.get_secret_value().strip()
        if url.startswith(("postgresql", "postgres:")):
            return create_pg_engine(url)
        if url.startswith("sqlite:///"):
            return create_sqlite_engine(url.removeprefix("sqlite:///"))
        if url:
            raise ValueError(f"{self.fullName}: url must start with sqlite:/// or postgresql://")
        return create_sqlite_engine(self.app.root / self.config.path)
