"""``databases.PgSqlType``: a PostgreSQL database."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from jitlite.meta.databases import Database
from jitlite.storage import create_pg_engine

from .schema import Config

__all__ = ["PgSqlDatabase"]


class PgSqlDatabase(Database):
    """A PostgreSQL database through psycopg 3, reached by ``url`` or by JitAi's ``dbConfig``."""

    config: Config

    def createEngine(self) -> Engine:
        """Open a pooled engine (connections are made on first use)."""
        return create_pg_engine(self.config.connection_url(), schema=self.config.schema_)
