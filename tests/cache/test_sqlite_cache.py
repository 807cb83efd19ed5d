"""SqliteCache specifics: file setup, WAL, wall-clock expiry, purging, connections."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jitlite.cache import SqliteCache

if TYPE_CHECKING:
    from .conftest import FakeClock


def count_rows(path: Path, table: str) -> int:
    """Count rows with a separate connection, expired or not."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_file_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "cache.db"
    cache = SqliteCache(path, "app", busy_timeout=2.5)
    cache.set("k", 1)
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cache._conn().execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    cache.close()


@pytest.mark.parametrize("path", [":memory:", "", "file::memory:?cache=shared"])
def test_in_memory_databases_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="MemoryCache"):
        SqliteCache(path, "app")


def test_expiry_is_stored_as_wall_clock_epoch(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    cache = SqliteCache(path, "app")
    before = time.time()
    cache.set("k", 1, ttl=30)
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT expires_at FROM jitlite_cache WHERE name = 'k'").fetchone()[0]
    assert before + 30 <= stored <= time.time() + 30
    cache.close()


def test_expired_rows_are_purged_occasionally(tmp_path: Path, fake_clock: FakeClock) -> None:
    path = tmp_path / "cache.db"
    cache = SqliteCache(path, "app", purge_interval=10, clock=fake_clock)
    other = SqliteCache(path, "other", purge_interval=10, clock=fake_clock)
    for i in range(3):
        cache.set(f"k{i}", i, ttl=1)
    other.set("o", 1, ttl=1)
    cache.set("keep", 1)
    cache.lock("abandoned", 1).acquire()
    fake_clock.advance(2)
    cache.set("w", 1)
    # Expired rows are invisible at once but stay until the purge interval has passed.
    assert cache.keys() == ["keep", "w"]
    assert count_rows(path, "jitlite_cache") == 6
    assert count_rows(path, "jitlite_cache_locks") == 1
    fake_clock.advance(10)
    cache.set("w", 2)
    # The purge covers every namespace in the file, and abandoned locks too.
    assert count_rows(path, "jitlite_cache") == 2
    assert count_rows(path, "jitlite_cache_locks") == 0
    cache.close()
    other.close()


def test_each_thread_gets_its_own_connection(tmp_path: Path) -> None:
    cache = SqliteCache(tmp_path / "cache.db", "app")
    seen: list[sqlite3.Connection] = []

    def work() -> None:
        seen.append(cache._conn())
        assert cache._conn() is seen[-1]
        cache.incr("n")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.append(cache._conn())
    assert len({id(conn) for conn in seen}) == 5
    assert cache.get("n") == 4
    cache.close()


def test_close_then_reuse_reopens(tmp_path: Path) -> None:
    cache = SqliteCache(tmp_path / "cache.db", "app")
    cache.set("k", "v")
    conn = cache._conn()
    cache.close()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    assert cache.get("k") == "v"
    cache.close()


def test_failed_incr_rolls_back_and_leaves_the_connection_usable(tmp_path: Path) -> None:
    cache = SqliteCache(tmp_path / "cache.db", "app")
    cache.set("s", "text")
    with pytest.raises(TypeError):
        cache.incr("s")
    assert cache._conn().in_transaction is False
    assert cache.incr("n") == 1
    cache.close()


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="busy_timeout"):
        SqliteCache(tmp_path / "a.db", "app", busy_timeout=0)
    with pytest.raises(ValueError, match="purge_interval"):
        SqliteCache(tmp_path / "a.db", "app", purge_interval=-1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    cache = SqliteCache(tmp_path / "cache.db", "app")
    cache.set("k", 1)
    parent_conn = cache._conn()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            if cache._conn() is not parent_conn and cache.incr("n") == 1:
                cache.close()
                code = 0 if not parent_conn.in_transaction else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent keeps its own connection, and sees what the child wrote.
    assert cache._conn() is parent_conn
    assert cache.get("n") == 1
    cache.close()


def test_ping_is_false_when_the_file_is_gone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = SqliteCache(str(tmp_path / "gone" / "cache.db"), "t-gone")
    assert cache.ping() is True
    cache.close()
    for path in (tmp_path / "gone").iterdir():
        path.unlink()
    (tmp_path / "gone").rmdir()
    assert cache.ping() is False  # the folder is gone: no file can be opened there
    assert "did not answer a ping" in caplog.text
