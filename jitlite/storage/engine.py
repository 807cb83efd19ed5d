"""Engines for SQLite and PostgreSQL, and the schema step that creates and migrates model tables."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import Pool, StaticPool
from sqlalchemy.schema import CreateColumn, ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler

from ..runtime.privatefiles import loose_mode, private_file
from ..runtime.sqlite_tx import immediate_transaction
from .errors import SchemaError, StorageError
from .fields import Stext, UtcDateTime

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "SCHEMA_TABLE",
    "SQLITE_SYNCHRONOUS",
    "SqliteSynchronous",
    "bounded_write_engine",
    "create_pg_engine",
    "create_sqlite_engine",
    "durable_write_engine",
    "ensure_schema",
    "pg_autocommit_rows",
    "sqlite_write_cursor",
    "write_engine",
    "write_transaction",
]

log = logging.getLogger("jitlite.storage")

# SQLITE_BUSY and SQLITE_LOCKED (primary result codes): another connection holds the lock.
_BUSY_CODES = (5, 6)

# One mutex per SQLite database (keyed by the pool every view of its engine shares): the writers of
# one process queue on it instead of on SQLite's busy handler, which sleeps 1, 2, 5, 10… ms between
# retries, so a callback's insert that meets a worker's short write would otherwise lose milliseconds.
_sqlite_write_locks: weakref.WeakKeyDictionary[Pool, tuple[threading.RLock, float, str]] = weakref.WeakKeyDictionary()

# The connection each SQLite database's lean write path keeps (see _lean_writer) and its settings.
_lean_writers: weakref.WeakKeyDictionary[Pool, tuple[Any, dict[Any, Any]]] = weakref.WeakKeyDictionary()

SqliteSynchronous = Literal["NORMAL", "FULL"]
SQLITE_SYNCHRONOUS: tuple[SqliteSynchronous, ...] = ("NORMAL", "FULL")

_WRITE_OPTION = "jitlite_write"
_DURABLE_OPTION = "jitlite_durable"
_BUSY_OPTION = "jitlite_busy_timeout"
_CHECKED_IN = "jitlite_checked_in"
_PING_AFTER_IDLE = 1.0  # seconds a pooled PostgreSQL connection may sit unused before a checkout pings it
# pg_advisory_xact_lock key serialising ensure_schema across processes ("jitl" in ASCII).
_SCHEMA_LOCK_KEY = 0x6A69746C
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

SCHEMA_TABLE = sa.Table(
    "jitlite_schema",
    sa.MetaData(),
    sa.Column("table_name", sa.String(255), primary_key=True),
    sa.Column("model_name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("schema_hash", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)


# --- engines --------------------------------------------------------------------------------------


def create_sqlite_engine(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float = 30.0,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
    synchronous: SqliteSynchronous = "NORMAL",
) -> Engine:
    """Return a thread-safe engine on a SQLite file: WAL, foreign keys on, a busy timeout.

    Write transactions started through ``write_engine`` use ``BEGIN IMMEDIATE``, so concurrent
    writers queue on the busy timeout instead of failing with "database is locked" mid-transaction.
    ``":memory:"`` gives one shared in-memory database (for tests; it does not survive dispose).

    A new file is created readable by its owner only (0600; SQLite gives its -wal and -shm files
    the same mode), in a folder created 0700 if missing.

    ``synchronous`` trades durability for speed. ``"NORMAL"`` (WAL mode's usual choice) never
    corrupts the database and survives a crash of the process, but the WAL is synced only at
    checkpoints, so on power loss or an OS crash the transactions committed since the last
    checkpoint can be lost. ``"FULL"`` syncs the WAL at every commit, so a commit that returned
    survives power loss too; use it where an acknowledgement depends on the commit — a WeCom
    callback answered ``success`` is never delivered again.
    """
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise StorageError(f"synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, got {synchronous!r}")
    target = os.fspath(path)
    options: dict[str, Any] = {}
    if target == ":memory:":
        options["poolclass"] = StaticPool
    else:
        if not private_file(target):
            mode = loose_mode(target)
            if mode is not None:
                log.warning("the database file %s can be read by other users (mode %04o); run chmod 600 on it "
                            "and on its -wal and -shm files", target, mode)
        options.update(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=busy_timeout)
    engine = sa.create_engine(
        sa.URL.create("sqlite+pysqlite", database=target),
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        echo=echo,
        hide_parameters=True,  # error texts and echo never show values (tokens, codes, ciphertexts)
        **options,
    )
    busy_ms = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below): the sqlite3 module's own transaction handling
        # skips BEGIN before DDL and SELECT, which breaks transactional migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            # PostgreSQL's LIKE is case-sensitive; make SQLite's match so filters mean the same on both.
            cursor.execute("PRAGMA case_sensitive_like=ON")
        finally:
            cursor.close()

    _sqlite_write_locks[engine.pool] = (threading.RLock(), busy_timeout, synchronous)

    pool = engine.pool

    @sa.event.listens_for(engine, "engine_disposed")
    def _on_dispose(disposed: Engine) -> None:
        # dispose() replaces the pool: the old one's lean writer is closed, its write mutex carried over.
        nonlocal pool
        old, pool = pool, disposed.pool
        found = _sqlite_write_locks.pop(old, None)
        if found is None:
            _close_lean_writer(old)
            return
        _sqlite_write_locks[disposed.pool] = found
        mutex, timeout, _ = found
        held = mutex.acquire(timeout=timeout)  # not under a write in progress on another thread
        try:
            _close_lean_writer(old)
        finally:
            if held:
                mutex.release()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        # Straight to the driver: a callback's store is one short transaction, and going through
        # SQLAlchemy's statement machinery for BEGIN would cost as much as its INSERT.
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None  # a connection being begun is checked out
        _prepare_sqlite(conn.connection.info, dbapi_connection, synchronous, busy_timeout,
                        durable=options.get(_DURABLE_OPTION, False), busy=options.get(_BUSY_OPTION))
        dbapi_connection.execute("BEGIN IMMEDIATE" if options.get(_WRITE_OPTION, False) else "BEGIN")

    return engine


def create_pg_engine(
    url: str | sa.URL,
    *,
    schema: str | None = None,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
) -> Engine:
    """Return an engine on PostgreSQL through psycopg 3 (``postgresql+psycopg://…``).

    ``schema`` sets the connections' search_path, so the same models can live in several schemas.
    """
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise StorageError(
            f"create_pg_engine needs a postgresql+psycopg:// URL, got {parsed.render_as_string(hide_password=True)!r}"
        )
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise StorageError(f"{schema!r} is not a valid PostgreSQL schema name (letters, digits, _)")
        connect_args["options"] = f"-c search_path={schema}"
    engine = sa.create_engine(parsed, connect_args=connect_args, pool_size=pool_size, max_overflow=max_overflow,
                              echo=echo, hide_parameters=True)  # as on SQLite: no values in error texts

    # Survive a database restart instead of failing the first request after it: a connection that
    # sat in the pool for a while is pinged when checked out, and replaced if the ping fails. One
    # returned moments ago is not: under load a ping per checkout would cost a round trip per
    # callback, and a connection that did die is invalidated with the whole pool at its first error.
    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_CHECKED_IN, 0.0) < _PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool then retries the checkout with a new connection
            raise sa.exc.DisconnectionError(f"a pooled connection did not answer a ping: {type(exc).__name__}") from exc

    return engine


def _prepare_sqlite(info: dict[Any, Any], dbapi_connection: Any, synchronous: str, busy_timeout: float, *,
                    durable: bool, busy: float | None) -> None:
    """Give a SQLite connection the synchronous level and busy timeout its next transaction needs.

    A durable transaction's commit is synced to disk whatever the engine's level, and a bounded one
    gives up on another process's write lock sooner than the engine's busy timeout. SQLite takes the
    level only outside a transaction, so both are set before BEGIN and put back at the next one;
    the connection's ``info`` remembers what it has, so an unchanged setting costs nothing.
    """
    level = "FULL" if durable else synchronous
    if info.get(_DURABLE_OPTION, synchronous) != level:
        dbapi_connection.execute(f"PRAGMA synchronous={level}")
        info[_DURABLE_OPTION] = level
    wait = busy_timeout if busy is None else busy
    if info.get(_BUSY_OPTION, busy_timeout) != wait:
        dbapi_connection.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        info[_BUSY_OPTION] = wait


def write_engine(engine: Engine) -> Engine:
    """Return a view of ``engine`` whose transactions take the write lock up front on SQLite."""
    return engine.execution_options(**{_WRITE_OPTION: True})


@contextmanager
def write_transaction(writer: Engine) -> Iterator[Connection]:
    """Run a write transaction on ``writer`` (a ``write_engine`` view): commit on success, roll back on error.

    On SQLite the writers of this process take turns on one mutex per database first, so they hand
    the write lock over at once; other processes still meet SQLite's busy timeout. A mutex not
    had within that timeout is not waited for any longer: SQLite's own lock then decides.
    """
    found = _sqlite_write_locks.get(writer.pool)
    if found is None:
        with writer.begin() as conn:
            yield conn
        return
    mutex, timeout, _ = found
    held = mutex.acquire(timeout=writer.get_execution_options().get(_BUSY_OPTION) or timeout)
    try:
        with writer.begin() as conn:
            yield conn
    finally:
        if held:
            mutex.release()


@contextmanager
def sqlite_write_cursor(engine: Engine, *, durable: bool = False, busy_timeout: float | None = None) -> Iterator[Any]:
    """Yield a driver cursor inside ``BEGIN IMMEDIATE`` on an SQLite engine, or None for another engine.

    The lean path for one-statement writes made very often (a callback's store): the transaction,
    the write mutex, the synchronous level and the busy timeout (``busy_timeout`` seconds instead of
    the engine's, when given) are handled as ``write_transaction`` handles them, without
    SQLAlchemy's per-transaction machinery. Commits on success, rolls back on error.
    """
    found = _sqlite_write_locks.get(engine.pool)
    if found is None:
        yield None
        return
    mutex, timeout, synchronous = found
    held = mutex.acquire(timeout=timeout if busy_timeout is None else busy_timeout)
    pooled = None
    try:
        # Holding the mutex, this process's one lean writer is free: no pool checkout and check-in
        # (with its reset) per write. Without it (the mutex timed out), a pooled connection.
        lean = _lean_writer(engine) if held else None
        if lean is None:
            pooled = engine.raw_connection()
            dbapi_connection: Any = pooled.dbapi_connection
            info = pooled.info
        else:
            dbapi_connection, info = lean
        try:
            _prepare_sqlite(info, dbapi_connection, synchronous, timeout, durable=durable, busy=busy_timeout)
            cursor = dbapi_connection.cursor()
            try:
                with immediate_transaction(dbapi_connection):
                    yield cursor
            finally:
                cursor.close()
        except sqlite3.Error as exc:
            # A connection that failed is not kept (the next write opens another); one that only met
            # another process's write lock is fine, and its transaction is rolled back already.
            if lean is not None and getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _BUSY_CODES:
                _close_lean_writer(engine.pool)
            raise
    finally:
        if pooled is not None:
            pooled.close()  # back to the pool
        if held:
            mutex.release()


def pg_autocommit_rows(engine: Engine, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run one statement on a pooled PostgreSQL connection in autocommit; return the rows it returned.

    The lean path for one-statement writes made very often (a callback's store): the statement is
    its own transaction, and SQLAlchemy's per-execution machinery, which costs the web tier about as
    much CPU as the statement, is skipped (so are its execution events and ``echo``). The pool is
    SQLAlchemy's, with its idle ping. A driver error comes out as SQLAlchemy's matching
    ``DBAPIError`` subclass (``IntegrityError``, ``OperationalError``…) without the parameters,
    and a connection that broke is invalidated rather than returned to the pool, as on
    SQLAlchemy's own path.
    """
    dialect = engine.dialect
    driver_error = dialect.loaded_dbapi.Error
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        assert connection is not None
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.autocommit = False  # the pool's other users expect transactions
    except driver_error as exc:
        broken = dialect.is_disconnect(exc, pooled.dbapi_connection, None)
        if broken:  # as SQLAlchemy's own path: the whole pool, whose other connections likely died too
            engine.pool._invalidate(pooled, exc)
        raise sa.exc.DBAPIError.instance(sql, None, exc, driver_error, hide_parameters=True,
                                         connection_invalidated=broken, dialect=dialect) from exc
    finally:
        pooled.close()


def _lean_writer(engine: Engine) -> tuple[Any, dict[Any, Any]] | None:
    """Return the connection (and its settings) ``sqlite_write_cursor`` keeps; None on a shared in-memory database.

    Only the holder of the database's write mutex uses it, so one per database serves every thread.
    It is taken from the pool once and detached from it; ``dispose`` closes it.
    """
    pool = engine.pool
    if isinstance(pool, StaticPool):  # one connection shared by every checkout: nothing to keep apart
        return None
    writer = _lean_writers.get(pool)
    if writer is None:
        pooled = engine.raw_connection()
        pooled.detach()  # ours now: the pool forgets it and opens another when it needs one
        writer = _lean_writers[pool] = (pooled.dbapi_connection, {})
    return writer


def _close_lean_writer(pool: Pool) -> None:
    writer = _lean_writers.pop(pool, None)
    if writer is not None:
        with suppress(sqlite3.Error):  # closing a broken connection: nothing more to do with it
            writer[0].close()


def durable_write_engine(engine: Engine) -> Engine:
    """Return a write view whose commits survive power loss on SQLite whatever its ``synchronous`` level.

    (PostgreSQL's commits do already, with its default ``synchronous_commit``.)
    """
    return engine.execution_options(**{_WRITE_OPTION: True, _DURABLE_OPTION: True})


def bounded_write_engine(writer: Engine, busy_timeout: float) -> Engine:
    """Return a view of a write view whose transactions wait at most ``busy_timeout`` s for SQLite's write lock."""
    if not busy_timeout > 0:
        raise StorageError(f"a busy timeout is a positive number of seconds, not {busy_timeout!r}")
    return writer.execution_options(**{_BUSY_OPTION: float(busy_timeout)})


# --- schema creation and migration ----------------------------------------------------------------


class _AddColumn(ExecutableDDLElement):
    """ALTER TABLE … ADD COLUMN, compiled by the dialect (SQLAlchemy has no construct for it)."""

    def __init__(self, table: sa.Table, column: sa.Column[Any]) -> None:
        self.table = table
        self.column = column


class _WidenVarchar(ExecutableDDLElement):
    """ALTER TABLE … ALTER COLUMN … TYPE VARCHAR(n), to lengthen a PostgreSQL text column."""

    def __init__(self, table: sa.Table, column: sa.Column[Any]) -> None:
        self.table = table
        self.column = column


@compiles(_AddColumn)
def _compile_add_column(element: _AddColumn, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    return f"ALTER TABLE {table} ADD COLUMN {compiler.process(CreateColumn(element.column), **kw)}"


@compiles(_WidenVarchar)
def _compile_widen_varchar(element: _WidenVarchar, compiler: DDLCompiler, **kw: Any) -> str:
    table = compiler.preparer.format_table(element.table)
    column = compiler.preparer.format_column(element.column)
    type_ = compiler.type_compiler.process(element.column.type)
    return f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_}"


def ensure_schema(engine: Engine, models: Iterable[type[Model]]) -> list[str]:
    """Create missing tables and migrate existing ones to the models; return what was done.

    Migration only adds: missing nullable or defaulted columns and missing indexes (and lengthens
    VARCHARs on PostgreSQL). It never drops or rewrites data; a column whose type changed
    incompatibly is reported in a SchemaError and nothing at all is changed. Each model's schema
    hash and version are kept in the ``jitlite_schema`` table, so an unchanged model costs one lookup.
    """
    models = list(models)
    by_table: dict[str, type[Model]] = {}
    for model in models:
        name = model.sa_table().name
        if name in by_table and by_table[name] is not model:
            raise SchemaError(f"models {by_table[name].__name__} and {model.__name__} both use table {name!r}")
        by_table[name] = model
    actions: list[str] = []
    with write_engine(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once must not both create or alter the same tables.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
        SCHEMA_TABLE.create(conn, checkfirst=True)
        records = {row.table_name: row for row in conn.execute(sa.select(SCHEMA_TABLE))}
        existing = set(sa.inspect(conn).get_table_names())
        problems: list[str] = []
        for name, model in by_table.items():
            table = model.sa_table()
            schema_hash = model.schema_hash()
            record = records.get(name)
            if name not in existing:
                table.create(conn)
                actions.append(f"created table {name}")
            elif record is not None and record.schema_hash == schema_hash:
                continue
            else:
                actions.extend(_migrate(conn, model, table, problems))
            values = {
                "model_name": model.__name__,
                "schema_hash": schema_hash,
                "updated_at": datetime.now(timezone.utc),
            }
            if record is None:
                conn.execute(SCHEMA_TABLE.insert().values(table_name=name, version=1, **values))
            else:
                conn.execute(
                    SCHEMA_TABLE.update()
                    .where(SCHEMA_TABLE.c.table_name == name)
                    .values(version=record.version + 1, **values)
                )
        if problems:
            # Raised inside the transaction, so every change above is rolled back with it.
            count = len(problems)
            raise SchemaError(
                f"the database schema cannot be migrated safely ({count} problem{'s' if count > 1 else ''}); "
                "nothing was changed:\n" + "\n".join(f"- {p}" for p in problems)
            )
    return actions


def _type_family(type_: sa.types.TypeEngine[Any]) -> str:
    """Return the family of a reflected column type, comparable with ``Field.kind``."""
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.Integer):
        return "integer"
    if isinstance(type_, sa.Numeric):
        return "numeric"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, (sa.JSON, JSONB)):
        return "json"
    if isinstance(type_, sa.String):
        return "text"
    return type(type_).__name__


def _migrate(conn: Connection, model: type[Model], table: sa.Table, problems: list[str]) -> list[str]:
    """Bring one existing table up to its model; append what cannot be done to ``problems``."""
    inspector = sa.inspect(conn)
    dialect = conn.dialect.name
    name = table.name
    actions: list[str] = []
    known_problems = len(problems)
    reflected = {column["name"]: column for column in inspector.get_columns(name)}
    db_pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
    if db_pk != [model.__pk__]:
        problems.append(
            f"{name}: the primary key is {db_pk} in the database but {[model.__pk__]} in model "
            f"{model.__name__}; a primary key is never changed automatically"
        )
    for column in table.columns:
        field = model.__fields__[column.name]
        current = reflected.get(column.name)
        if current is None:
            if not field.nullable and field.server_default() is None:
                problems.append(
                    f"{name}.{column.name}: cannot add a NOT NULL column without a constant default to a "
                    f"table that may hold rows; declare it nullable=True or give it a default"
                )
                continue
            conn.execute(_AddColumn(table, column))
            actions.append(f"added column {name}.{column.name}")
            continue
        family = _type_family(current["type"])
        compatible = family == field.kind or (dialect == "sqlite" and field.kind == "json" and family == "text")
        if not compatible:
            problems.append(
                f"{name}.{column.name}: the database column is {current['type']} ({family}) but model "
                f"{model.__name__} declares {field!r}; jitlite never converts or drops data: migrate "
                "the column yourself, or give the field a new name"
            )
            continue
        length = getattr(current["type"], "length", None)
        if dialect == "postgresql" and isinstance(field, Stext) and length is not None and length < field.max_length:
            conn.execute(_WidenVarchar(table, column))
            actions.append(f"widened {name}.{column.name} to VARCHAR({field.max_length})")
    if len(problems) > known_problems:
        return actions  # the migration is refused anyway; indexes on a broken table could only fail
    have: set[tuple[tuple[str, ...], bool]] = {(tuple(db_pk), True)}
    for reflected_index in inspector.get_indexes(name):
        columns = tuple(c for c in reflected_index["column_names"] if c is not None)
        have.add((columns, bool(reflected_index["unique"])))
    for constraint in inspector.get_unique_constraints(name):
        have.add((tuple(constraint["column_names"]), True))
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        columns = tuple(c.name for c in index.columns)
        if (columns, True) in have or (not index.unique and (columns, False) in have):
            continue
        savepoint = conn.begin_nested()  # a failed CREATE INDEX must not poison the transaction
        try:
            index.create(conn)
        except sa.exc.IntegrityError:
            savepoint.rollback()
            problems.append(
                f"{name}: cannot add the unique index on ({', '.join(columns)}): existing rows hold "
                "duplicate values; remove the duplicates, then start again"
            )
            continue
        savepoint.commit()
        actions.append(f"created {'unique ' if index.unique else ''}index {index.name} on {name}")
    return actions
