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
        config = self.config
        return create_pg_engine(config.connection_url(), schema=config.schema_, pool_size=config.poolSize,
                                max_overflow=config.maxOverflow)
