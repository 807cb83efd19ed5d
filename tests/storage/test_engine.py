"""Engines: SQLite settings, PostgreSQL URLs, and the storage package's public names."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import jitlite.storage as storage
from jitlite.storage import StorageError, create_pg_engine, create_sqlite_engine, write_engine

from ..conftest import file_mode as mode


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "appData" / "db.sqlite", busy_timeout=7)
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
            assert conn.exec_driver_sql("SELECT 'a' LIKE 'A'").scalar() == 0
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 7000, "synchronous": 1}
        assert (tmp_path / "appData").is_dir()  # the folder is created on demand
    finally:
        engine.dispose()


def test_sqlite_transactions_are_real(tmp_path: Path) -> None:
    """DDL and DML roll back together (the sqlite3 module would autocommit the DDL)."""
    engine = create_sqlite_engine(tmp_path / "db.sqlite")
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            raise RuntimeError("roll back")
        assert not sa.inspect(engine).has_table("t")
    finally:
        engine.dispose()


def test_sqlite_writers_wait_for_each_other(tmp_path: Path) -> None:
    """Write transactions start with BEGIN IMMEDIATE, so a second writer queues instead of failing."""
    engine = create_sqlite_engine(tmp_path / "db.sqlite", busy_timeout=10)
    writer = write_engine(engine)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
            conn.exec_driver_sql("INSERT INTO counter VALUES (0)")

        def bump() -> None:
            for _ in range(20):
                with writer.begin() as conn:
                    value = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                    conn.exec_driver_sql("UPDATE counter SET n = ?", (value + 1,))

        threads = [threading.Thread(target=bump) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 100  # no lost update
    finally:
        engine.dispose()


def test_sqlite_memory_database_is_shared() -> None:
    engine = create_sqlite_engine(":memory:")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        assert sa.inspect(engine).has_table("t")
    finally:
        engine.dispose()


def test_pg_engine_urls_and_schemas() -> None:
    engine = create_pg_engine("postgresql://user:pw@localhost:5432/db", schema="tenant_1")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
    finally:
        engine.dispose()
    with pytest.raises(StorageError) as caught:
        create_pg_engine("postgresql+psycopg2://user:hunter2@localhost/db")
    assert "needs a postgresql+psycopg:// URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(StorageError, match="not a valid PostgreSQL schema name"):
        create_pg_engine("postgresql://localhost/db", schema="x; DROP TABLE y")


def test_all_lists_every_public_name() -> None:
    public = {name for name in vars(storage) if not name.startswith("_")}
    modules = {"engine", "errors", "fields", "model", "qfilter", "secrets", "annotations"}
    assert set(storage.__all__) == public - modules
    for name in storage.__all__:
        assert getattr(storage, name) is not None




def test_sqlite_files_are_created_private(tmp_path: Path, loose_umask: None) -> None:
    engine = create_sqlite_engine(tmp_path / "appData" / "db.sqlite")
    try:
        with write_engine(engine).begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with engine.connect() as conn:  # the -wal and -shm files exist while a connection is open
            assert conn.exec_driver_sql("SELECT x FROM t").scalar_one() == 1
            files = {p.name: mode(p) for p in (tmp_path / "appData").iterdir()}
            assert files == {"db.sqlite": 0o600, "db.sqlite-wal": 0o600, "db.sqlite-shm": 0o600}
        assert mode(tmp_path / "appData") == 0o700
    finally:
        engine.dispose()


def test_existing_files_and_folders_keep_their_mode_and_a_loose_file_is_reported(
    tmp_path: Path, loose_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "shared").mkdir(mode=0o755)
    old = tmp_path / "shared" / "old.sqlite"
    old.touch(mode=0o644)
    engine = create_sqlite_engine(old)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()
    assert (mode(tmp_path / "shared"), mode(old)) == (0o755, 0o644)  # a user's choice is not overridden
    assert any("can be read by other users (mode 0644)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("synchronous", "pragma"), [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_synchronous_is_configurable(tmp_path: Path, synchronous: Any, pragma: int) -> None:
    engine = create_sqlite_engine(tmp_path / "db.sqlite", synchronous=synchronous)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match="synchronous must be one of NORMAL, FULL, got 'OFF'"):
        create_sqlite_engine(tmp_path / "db.sqlite", synchronous="OFF")  # type: ignore[arg-type]


def test_a_pg_connection_killed_while_idle_in_the_pool_is_replaced_at_checkout(
        pg_admin: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from jitlite.storage import engine as engine_module

    from .conftest import pg_url_or_skip

    pg = create_pg_engine(pg_url_or_skip(), pool_size=1, max_overflow=0)
    pings: list[object] = []
    real_ping = pg.dialect.do_ping

    def counted_ping(connection: Any) -> bool:
        pings.append(connection)
        return bool(real_ping(connection))

    monkeypatch.setattr(pg.dialect, "do_ping", counted_ping)
    try:
        with pg.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with pg_admin.connect() as admin:  # the server drops it, as a restart would
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        monkeypatch.setattr(engine_module, "_PING_AFTER_IDLE", 0.0)  # it has sat idle long enough
        with pg.connect() as conn:  # pinged, found dead, replaced: no error reaches the caller
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
        assert len(pings) >= 1
        monkeypatch.setattr(engine_module, "_PING_AFTER_IDLE", 3600.0)
        pings.clear()
        with pg.connect() as conn:  # returned a moment ago: used without a ping (no round trip)
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert pings == []
    finally:
        pg.dispose()
