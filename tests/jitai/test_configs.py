"""Database and cache configs as JitAi writes them, and the cache API under JitAi's names."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

import jitlite
from jitlite.storage import create_pg_engine

CUSTOMER_MODEL = (Path(__file__).resolve().parent / "apps" / "crm" / "models" / "CustomerModel")


def env_or_skip(name: str) -> str:
    """Return a test service's URL from the environment; skip without it, fail on CI."""
    value = os.environ.get(name, "")
    if not value:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} must be set on CI")
        pytest.skip(f"{name} is not set")
    return value


def test_sqlite_database_and_cache_in_jitai_form(crm: jitlite.App) -> None:
    database = crm.getElement("databases.CrmDB")
    assert database.engine.url.database == str(crm.root / "appData" / "database" / "CrmDB" / "sqlite.db")
    assert crm.describe("databases.CrmDB")["config"]["dbConfig"] == {"database": "appData/database/CrmDB/sqlite.db"}
    cache = crm.getElement("caches.DefaultCache")
    assert cache.set("user:123", "John Doe", 3600) is True
    assert cache.get("user:123") == "John Doe" and cache.ttl("user:123") is not None
    assert (crm.root / "appData" / "caches" / "DefaultCache" / "sqlite.db").is_file()


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"databases/D/D.json": {"path": "appData/a.db", "dbConfig": {"database": "appData/b.db"}}},
         "names the database file twice"),
        ({"databases/D/D.json": {"dbType": "mysql", "dbConfig": {"database": "appData/b.db"}}}, "dbType"),
        ({"databases/D/D.json": {"dbConfig": {"file": "appData/b.db"}}}, "dbConfig.file"),
        ({"caches/C/e.json": {"title": "C", "type": "caches.SqliteType"},
          "caches/C/C.json": {"directory": "appData/a.db", "path": "appData/b.db"}}, "names the cache file twice"),
    ],
)
def test_contradicting_configs_are_load_problems(
    make_app: Callable[..., Path], files: dict[str, Any], fragment: str
) -> None:
    root = make_app({"databases/D/e.json": {"title": "D", "type": "databases.SqliteType"}, **files}, app_id="badcfg")
    with pytest.raises(jitlite.ElementLoadError, match=fragment):
        jitlite.App(root, environ={})


def test_a_directory_names_a_folder_for_the_cache_file(make_app: Callable[..., Path]) -> None:
    root = make_app({"caches/C/e.json": {"title": "C", "type": "caches.SqliteType"},
                     "caches/C/C.json": {"directory": "appData/cachedir"}}, app_id="cachedir")
    (root / "appData" / "cachedir").mkdir(parents=True)
    cache = jitlite.App(root, environ={}).getElement("caches.C")
    cache.set("k", 1)
    assert (root / "appData" / "cachedir" / "cache.sqlite3").is_file()


@pytest.fixture
def pg_schema() -> Iterator[tuple[sa.URL, str]]:
    """Return the test PostgreSQL URL and a fresh schema in it (dropped afterwards)."""
    url = sa.make_url(env_or_skip("JITLITE_TEST_PG_URL"))
    admin = create_pg_engine(url)
    schema = f"jl_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield url, schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.mark.parametrize("form", ["dbConfig", "flat"])
def test_postgresql_database_in_jitai_form(
    make_app: Callable[..., Path], pg_schema: tuple[sa.URL, str], form: str
) -> None:
    url, schema = pg_schema
    settings = {"host": "{{PG_HOST}}", "port": "{{PG_PORT}}", "user": "{{PG_USER}}", "password": "{{PG_PASSWORD}}"}
    if form == "dbConfig":
        config = {"dbType": "postgresql", "dbAlias": "Pg", "schema": schema,
                  "dbConfig": {**settings, "database": "{{PG_DATABASE}}"}}
    else:
        config = {**settings, "dbname": "{{PG_DATABASE}}", "schema": schema}
    files = {"databases/Default/e.json": {"title": "Default database", "type": "databases.PgSqlType"},
             "databases/Default/Default.json": config}
    for name in ("e.json", "__init__.py", "model.py"):
        files[f"models/CustomerModel/{name}"] = (CUSTOMER_MODEL / name).read_text(encoding="utf-8")
    root = make_app(files, app_id=f"pg{form}")
    environ = {"PG_HOST": url.host or "", "PG_PORT": str(url.port or 5432), "PG_USER": url.username or "",
               "PG_PASSWORD": url.password or "", "PG_DATABASE": url.database or ""}
    app = jitlite.App(root, environ=environ)
    customers = app.getElement("models.CustomerModel")
    try:
        customers.createOrUpdateMany([{"nick": f"n{i}"} for i in range(25)])
        assert customers.query()["totalCount"] == 25 and len(customers.query()["rowDatas"]) == 25
        assert customers.get("Q(Q('nick', '=', 'n7'))").id == 8
        assert customers.create({"nick": "after"}).id == 26
        shown = app.describe("databases.Default")["config"]
        assert (shown["dbConfig"] if form == "dbConfig" else shown)["password"] == "******"
        assert "***@" in repr(app.getElement("databases.Default").engine) or not url.password
    finally:
        app.getElement("databases.Default").dispose()


def test_postgresql_config_needs_one_way_to_connect(make_app: Callable[..., Path]) -> None:
    base = {"databases/P/e.json": {"title": "P", "type": "databases.PgSqlType"}}
    for config, fragment in (
        ({}, "does not say how to reach PostgreSQL"),
        ({"url": "postgresql://u@h/d", "dbConfig": {"host": "h", "user": "u", "database": "d"}}, "more than one way"),
        ({"dbConfig": {"host": "h", "user": "u"}}, "dbConfig.database"),
        ({"host": "h", "port": 5432}, "lacks user, dbname"),
    ):
        root = make_app({**base, "databases/P/P.json": config}, app_id="pgbad")
        with pytest.raises(jitlite.ElementLoadError, match=fragment):
            jitlite.App(root, environ={})


def test_redis_cache_in_jitai_form(make_app: Callable[..., Path]) -> None:
    url = urlsplit(env_or_skip("JITLITE_TEST_REDIS_URL"))
    config = {"host": "{{REDIS_HOST}}", "port": "{{REDIS_PORT}}", "password": "{{REDIS_PASSWORD}}",
              "db": int(url.path.strip("/") or 0), "username": url.username or None, "socket_timeout": 5}
    root = make_app({"caches/MyRedis/e.json": {"backendBundleEntry": ".", "title": "Redis", "type": "caches.RedisType"},
                     "caches/MyRedis/MyRedis.json": {k: v for k, v in config.items() if v is not None}},
                    app_id=f"redis{uuid.uuid4().hex[:8]}")
    environ = {"REDIS_HOST": url.hostname or "", "REDIS_PORT": str(url.port or 6379),
               "REDIS_PASSWORD": url.password or ""}
    app = jitlite.App(root, environ=environ)
    cache = app.getElement("caches.MyRedis")
    assert cache.ping() is True
    assert cache.set("user:1001", "Zhang San", 3600) is True and cache.get("user:1001") == "Zhang San"
    assert cache.setNumeric("visit_count", 100) is True and cache.incr("visit_count", 5) == 105
    assert cache.getNumeric("missing") == 0
    cache.disconnect()
    assert cache.exists("user:1001")  # the next call reconnects
    assert cache.delete("user:1001") and cache.delete("visit_count")
    assert app.describe("caches.MyRedis")["config"]["password"] == "******"


def test_redis_config_needs_one_way_to_connect(make_app: Callable[..., Path]) -> None:
    base = {"caches/R/e.json": {"title": "R", "type": "caches.RedisType"}}
    for config, fragment in (({}, "does not say how to reach Redis"),
                             ({"url": "redis://h:6379/0", "host": "h"}, "twice"),
                             ({"url": "redis://h:6379/0", "db": 2}, "mixes url with host-form settings"),
                             ({"host": "h", "port": 70000}, "port")):
        root = make_app({**base, "caches/R/R.json": config}, app_id="redisbad")
        with pytest.raises(jitlite.ElementLoadError, match=fragment):
            jitlite.App(root, environ={})


WORKER = textwrap.dedent("""
    import sys
    import jitlite
    cache = jitlite.App(sys.argv[1], environ={}).getElement("caches.Default")
    if sys.argv[2] == "write":
        assert cache.set("shared", {"from": "child"}, 60) is True
        cache.incr("hits")
    else:
        print(cache.get("parent"), cache.getNumeric("hits"))
""")


def test_the_default_cache_is_shared_by_processes(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="sharedcache")
    cache = jitlite.App(root, environ={}).getElement("caches.Default")
    assert cache.incr("hits") == 1
    subprocess.run([sys.executable, "-c", WORKER, str(root), "write"], check=True, timeout=60)
    assert cache.get("shared") == {"from": "child"} and cache.getNumeric("hits") == 2
    cache.set("parent", "hello")
    seen = subprocess.run([sys.executable, "-c", WORKER, str(root), "read"], check=True, timeout=60,
                          capture_output=True, text=True).stdout.split()
    assert seen == ["hello", "2"]
