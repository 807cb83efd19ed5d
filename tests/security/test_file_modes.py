"""The app's data folder is its owner's only (0700), and so are its databases, cache and key (0600)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite

from ..conftest import PROXY_CONFIG
from ..conftest import file_mode as mode

pytestmark = pytest.mark.usefixtures("loose_umask")


def data_app(make_app: Callable[..., Path], **database: str) -> Path:
    return make_app({
        "auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
        "auths/L/L.json": PROXY_CONFIG,
        "caches/Shared/e.json": {"title": "Shared cache", "type": "caches.SqliteType"},
        "databases/Durable/e.json": {"title": "Durable", "type": "databases.SqliteType"},
        "databases/Durable/Durable.json": {"path": "appData/durable.sqlite3", **database},
    }, app_id="data")


def test_app_data_folder_and_files_are_private(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(data_app(make_app), environ={})  # generates appData/secret.key
    database = app.getElement("databases.Default")
    cache = app.getElement("caches.Shared")
    try:
        with database.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
        cache.set("token", "t-1", 60)
        with database.engine.connect():
            files = {p.name: mode(p) for p in app.appDataDir.iterdir()}
    finally:
        database.dispose()
        cache.backend.close()
    assert mode(app.appDataDir) == 0o700
    expected = {"secret.key", "jitlite.sqlite3", "jitlite.sqlite3-wal", "jitlite.sqlite3-shm", "cache.sqlite3",
                "cache.sqlite3-wal", "cache.sqlite3-shm"}
    assert files == dict.fromkeys(expected, 0o600)


@pytest.mark.parametrize(("given", "pragma"), [({}, 1), ({"synchronous": "FULL"}, 2), ({"synchronous": "full"}, 2)])
def test_database_config_chooses_synchronous(make_app: Callable[..., Path], given: dict[str, str], pragma: int) -> None:
    app = jitlite.App(data_app(make_app, **given), environ={})
    database = app.getElement("databases.Durable")
    assert database.config.synchronous == ("NORMAL" if pragma == 1 else "FULL")
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    finally:
        database.dispose()


def test_unknown_synchronous_is_a_load_problem(make_app: Callable[..., Path]) -> None:
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(data_app(make_app, synchronous="OFF"), environ={})
    [problem] = caught.value.problems
    assert problem.full_name == "databases.Durable" and "synchronous" in str(problem.where)
    assert "'NORMAL' or 'FULL'" in str(caught.value)
