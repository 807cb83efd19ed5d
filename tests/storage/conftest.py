"""Fixtures running the storage tests on SQLite and PostgreSQL.

PostgreSQL comes from ``JITLITE_TEST_PG_URL`` (``eval "$(.ci/services)"`` sets it). Without it the
PostgreSQL cases are skipped, except under ``CI=true``, where a missing database is a failure.
Each PostgreSQL test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from jitlite.storage import (
    Boolean,
    Datetime,
    Integer,
    JitDict,
    JitList,
    Model,
    ModelManager,
    Numeric,
    SecretBox,
    Stext,
    create_pg_engine,
    create_sqlite_engine,
)

ENGINES = ["sqlite", "postgresql"]


def pg_url_or_skip() -> str:
    """Return the test PostgreSQL URL; skip without one, or fail when running in CI."""
    url = os.environ.get("JITLITE_TEST_PG_URL", "")
    if not url:
        reason = 'JITLITE_TEST_PG_URL is not set; run eval "$(.ci/services)" to start PostgreSQL'
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@dataclass
class Database:
    """One test database: a SQLite file or a PostgreSQL schema, which engines can be opened on."""

    kind: str
    make: Callable[[], Engine]
    engines: list[Engine] = field(default_factory=list)

    def open(self) -> Engine:
        """Open a new engine on this database (closed at the end of the test)."""
        engine = self.make()
        self.engines.append(engine)
        return engine


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """Return an engine on the test PostgreSQL database's default schema."""
    engine = create_pg_engine(pg_url_or_skip())
    yield engine
    engine.dispose()


@contextmanager
def open_database(request: pytest.FixtureRequest, kind: str, folder: Path) -> Iterator[Database]:
    """Yield a fresh, empty database of ``kind``; dispose its engines and drop it afterwards."""
    if kind == "sqlite":
        path = folder / "storage.db"
        db = Database("sqlite", lambda: create_sqlite_engine(path))
        try:
            yield db
        finally:
            for engine in db.engines:
                engine.dispose()
        return
    url = pg_url_or_skip()
    admin: Engine = request.getfixturevalue("pg_admin")
    schema = f"jl_{uuid.uuid4().hex[:16]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = Database("postgresql", lambda: create_pg_engine(url, schema=schema))
    try:
        yield db
    finally:
        for engine in db.engines:
            engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Return a fresh, empty database on each engine."""
    with open_database(request, request.param, tmp_path) as db:
        yield db


@pytest.fixture(scope="module", params=ENGINES)
def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """Return a database on each engine shared by one module's tests (for read-only tests)."""
    with open_database(request, request.param, tmp_path_factory.mktemp("storage")) as db:
        yield db


@pytest.fixture
def engine(database: Database) -> Engine:
    """Return an engine on a fresh database, once per engine kind."""
    return database.open()


@pytest.fixture
def box() -> SecretBox:
    """Return a SecretBox with a new random key."""
    return SecretBox(SecretBox.generate_key())


class Member(Model):
    """A WeCom member, as the org sync keeps them; the model most tests use."""

    __tablename__ = "members"
    __unique__ = (("corpId", "userId"),)
    __indexes__ = ("name",)
    corpId = Stext(max_length=64, nullable=False)
    userId = Stext(max_length=64, nullable=False)
    name = Stext(max_length=128)
    age = Integer()
    salary = Numeric(10, 2)
    active = Boolean(default=True)
    joinedAt = Datetime()
    departments = JitList(default=list)
    extra = JitDict()


@pytest.fixture(scope="session")
def member_model() -> type[Model]:
    """Return the Member model class."""
    return Member


@pytest.fixture
def members(engine: Engine) -> ModelManager:
    """Return Member bound to the test engine, with its table created."""
    return Member.bind(engine)


def member(user_id: str, **values: Any) -> dict[str, Any]:
    """Return a member row for corp c1."""
    return {"corpId": "c1", "userId": user_id, **values}


@pytest.fixture
def make_member() -> Callable[..., dict[str, Any]]:
    """Return the member row builder."""
    return member
