"""One SQLite write transaction on a driver connection, shared by the database engine and the SQLite cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["immediate_transaction"]


@contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in ``BEGIN IMMEDIATE`` (the write lock taken before any read); commit, or roll back on error.

    The connection must be in autocommit mode (``isolation_level=None``), so that the sqlite3 module
    opens no transaction of its own.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        # Also when COMMIT failed: a long-lived connection must not stay inside the transaction.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
