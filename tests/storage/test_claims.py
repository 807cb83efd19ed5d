"""createIfAbsent and updateAndReturn: the one-statement writes a work queue is built on (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlite3
import threading
import traceback
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from jitlite.storage import (
    AutoInt,
    Boolean,
    ConstraintError,
    Date,
    Datetime,
    FieldValueError,
    Integer,
    JitDict,
    Ltext,
    Model,
    ModelManager,
    Numeric,
    Q,
    QueryError,
    Secret,
    SecretBox,
    Stext,
    UnknownFieldError,
)


class Job(Model):
    """A queued piece of work: unique by its key, claimed by a worker."""

    __tablename__ = "jobs"
    __unique__ = (("queue", "key"),)
    id = AutoInt(primary_key=True)
    queue = Stext(max_length=32, nullable=False)
    key = Stext(max_length=64, nullable=False)
    body = Secret()
    status = Stext(max_length=16, nullable=False)
    attempts = Integer(default=0, nullable=False)
    owner = Stext(max_length=64)


class Plain(Model):
    """A model with no unique key besides its id."""

    __tablename__ = "plain"
    id = AutoInt(primary_key=True)
    name = Stext(max_length=32)


@pytest.fixture
def jobs(engine: Engine) -> ModelManager:
    return Job.bind(engine, SecretBox(SecretBox.generate_key()))


def job(key: str, **values: Any) -> dict[str, Any]:
    return {"queue": "q", "key": key, "body": f"secret {key}", "status": "pending", **values}


def test_create_if_absent_inserts_once_and_returns_the_new_id(jobs: ModelManager) -> None:
    first = jobs.createIfAbsent(job("a"))
    assert isinstance(first, int)
    assert jobs.createIfAbsent(job("a", status="other")) is None  # same key: nothing written
    second = jobs.createIfAbsent(job("b"))
    assert second is not None and second != first
    [row] = jobs.query(Q(key="a"))["rowDatas"]
    assert (row.id, row.status, row.body, row.attempts) == (first, "pending", "secret a", 0)  # defaults applied


def test_concurrent_creates_of_one_key_insert_exactly_one_row_without_errors(jobs: ModelManager) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def insert() -> None:
        try:
            found = jobs.createIfAbsent(job("same"))
        except BaseException as exc:  # every failure is the finding
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(found)

    threads = [threading.Thread(target=insert) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len([r for r in results if r is not None]) == 1
    assert jobs.query(Q(key="same"))["totalCount"] == 1


def test_create_if_absent_refuses_bad_values_and_keys(jobs: ModelManager, engine: Engine) -> None:
    with pytest.raises(UnknownFieldError):
        jobs.createIfAbsent({**job("x"), "nope": 1})
    with pytest.raises(QueryError, match="createIfAbsent: uniqueFields"):
        jobs.createIfAbsent(job("x"), uniqueFields=["key"])
    with pytest.raises(QueryError, match="no unique key besides its AutoInt id"):
        Plain.bind(engine).createIfAbsent({"name": "n"})
    with pytest.raises(FieldValueError, match=r"Job\.status"):
        jobs.createIfAbsent({"queue": "q", "key": "y", "status": None})


def test_on_postgresql_a_refused_create_is_a_constraint_error_and_a_killed_connection_is_replaced(
        jobs: ModelManager, engine: Engine, request: pytest.FixtureRequest) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver-level path of createIfAbsent is PostgreSQL's")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE jobs ADD CONSTRAINT no_bad_status CHECK (status <> 'bad')")
    with pytest.raises(ConstraintError, match="no_bad_status") as refused:
        jobs.createIfAbsent(job("k1", status="bad"))
    # PostgreSQL's DETAIL quotes the failing row, a Secret's ciphertext among its columns: left out.
    assert "k1" not in str(refused.value) and "j2." not in str(refused.value)
    with pytest.raises(ConstraintError, match="no_bad_status") as refused_many:
        jobs.createManyIfAbsent([job("k8"), job("k9", status="bad")])
    for caught in (refused.value, refused_many.value):  # nor in a logged traceback (no chained driver error)
        printed = "".join(traceback.format_exception(caught))
        assert "DETAIL" not in printed and "Failing row" not in printed and "j2." not in printed
    assert jobs.createIfAbsent(job("k1")) is not None  # the connection that refused is still good
    # The server ends the pooled connections (a restart, a failover): the first write fails as
    # SQLAlchemy's OperationalError with the connection invalidated, and, the whole pool being
    # invalidated with it, the next ones get new connections.
    held = [engine.connect() for _ in range(3)]
    pids = [int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for conn in held]
    for conn in held:
        conn.close()
    with request.getfixturevalue("pg_admin").connect() as admin:  # another engine: not the pooled connections
        for pid in pids:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    with pytest.raises(sa_exc.OperationalError) as broken:
        jobs.createIfAbsent(job("k2"))
    assert broken.value.connection_invalidated
    assert "k2" not in str(broken.value)
    assert [jobs.createIfAbsent(job(k)) is not None for k in ("k2", "k3", "k4")] == [True, True, True]
    assert jobs.query(Q(key__in=["k1", "k2", "k3", "k4"]))["totalCount"] == 4


def test_update_and_return_claims_with_an_increment_in_one_statement(jobs: ModelManager) -> None:
    ids = [jobs.createIfAbsent(job(k)) for k in ("a", "b", "c")]
    jobs.updateByFilter(Q(key="c"), {"status": "done"})
    claimed = jobs.updateAndReturn(Q(id__in=ids, status="pending"), {"status": "running", "owner": "w1"},
                                   increments={"attempts": 1}, fieldList=["id", "body", "attempts", "owner"])
    assert sorted((r.id, r.body, r.attempts, r.owner) for r in claimed) == [
        (ids[0], "secret a", 1, "w1"), (ids[1], "secret b", 1, "w1")]
    # The condition no longer holds: a second claimant gets nothing.
    assert jobs.updateAndReturn(Q(id__in=ids, status="pending"), {"status": "running", "owner": "w2"},
                                increments={"attempts": 1}) == []
    assert [r.attempts for r in jobs.query(Q(id__in=ids), orderList=[["id", 1]])["rowDatas"]] == [1, 1, 0]


def test_update_and_return_refuses_what_it_cannot_do(jobs: ModelManager) -> None:
    with pytest.raises(QueryError, match="both empty"):
        jobs.updateAndReturn(Q(), {})
    with pytest.raises(QueryError, match="both set and incremented"):
        jobs.updateAndReturn(Q(), {"attempts": 2}, increments={"attempts": 1})
    with pytest.raises(QueryError, match="must be an int"):
        jobs.updateAndReturn(Q(), {"status": "x"}, increments={"attempts": 1.5})  # type: ignore[dict-item]
    with pytest.raises(UnknownFieldError):
        jobs.updateAndReturn(Q(), {"status": "x"}, increments={"tries": 1})


def test_a_durable_create_is_synced_to_disk_on_sqlite_and_the_next_write_is_not(tmp_path: Path) -> None:
    from jitlite.storage import create_sqlite_engine

    engine = create_sqlite_engine(tmp_path / "durable.sqlite3", synchronous="NORMAL")
    statements: list[str] = []

    @sa_event.listens_for(engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    jobs = Job.bind(engine, SecretBox(SecretBox.generate_key()))
    statements.clear()
    jobs.createIfAbsent(job("auth-code"), durable=True)
    jobs.createIfAbsent(job("ticket"))
    pragmas = [s for s in statements if s.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT"))]
    assert pragmas == ["PRAGMA synchronous=FULL", "BEGIN IMMEDIATE", "COMMIT",
                       "PRAGMA synchronous=NORMAL", "BEGIN IMMEDIATE", "COMMIT"]
    engine.dispose()


def test_a_sqlite_writer_whose_connection_broke_is_replaced_and_dispose_keeps_writes_working(tmp_path: Path) -> None:
    from jitlite.storage import create_sqlite_engine

    engine = create_sqlite_engine(tmp_path / "lean.sqlite3")
    inserted_on: list[Any] = []  # the connection of each INSERT, in order

    @sa_event.listens_for(engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        def seen(statement: str) -> None:
            if statement.startswith("INSERT INTO jobs"):
                inserted_on.append(dbapi_connection)
        dbapi_connection.set_trace_callback(seen)

    jobs = Job.bind(engine, SecretBox(SecretBox.generate_key()))
    jobs.createIfAbsent(job("a"))
    writer = inserted_on[-1]
    writer.close()  # as if the file had gone away under it
    with pytest.raises(Exception, match="closed"):
        jobs.createIfAbsent(job("lost"))  # this write fails (the sender is told to retry) ...
    assert jobs.createIfAbsent(job("b")) is not None  # ... and the next one has a new connection
    replacement = inserted_on[-1]
    assert replacement is not writer
    engine.dispose()  # an app closing its databases and opening them again
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        replacement.execute("SELECT 1")  # dispose closed the writer it kept
    assert jobs.createIfAbsent(job("c")) is not None
    assert sorted(row.key for row in jobs.query(size=None)["rowDatas"]) == ["a", "b", "c"]
    engine.dispose()


def test_a_sqlite_writer_that_met_another_processs_write_lock_is_kept(tmp_path: Path) -> None:
    from jitlite.storage import create_sqlite_engine

    engine = create_sqlite_engine(tmp_path / "busy.sqlite3")
    inserted_on: list[Any] = []

    @sa_event.listens_for(engine, "connect")
    def trace(dbapi_connection: Any, _record: Any) -> None:
        def seen(statement: str) -> None:
            if statement.startswith("INSERT INTO jobs"):
                inserted_on.append(dbapi_connection)
        dbapi_connection.set_trace_callback(seen)

    jobs = Job.bind(engine, SecretBox(SecretBox.generate_key()))
    jobs.createIfAbsent(job("a"))
    writer = inserted_on[-1]
    other = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="locked"):
            jobs.createIfAbsent(job("blocked"), busyTimeout=0.1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    # A busy database is no broken connection: the next write goes through the same one.
    assert jobs.createIfAbsent(job("b")) is not None and inserted_on[-1] is writer
    engine.dispose()


def test_create_if_absent_binds_values_given_in_any_order(jobs: ModelManager) -> None:
    new = jobs.createIfAbsent({"status": "pending", "body": "secret z", "key": "z", "queue": "q"})
    [row] = jobs.query(Q(key="z"))["rowDatas"]
    assert (row.id, row.queue, row.body, row.status) == (new, "q", "secret z", "pending")


def test_create_many_if_absent_inserts_new_keys_once_and_answers_in_order(jobs: ModelManager) -> None:
    stored = jobs.createIfAbsent(job("old"))
    answer = jobs.createManyIfAbsent([job("a"), job("old"), job("b"), job("a", status="again")])
    assert answer[1] is None and answer[3] is None  # stored already; came earlier in the list
    assert answer[0] is not None and answer[2] is not None and len({answer[0], answer[2], stored}) == 3
    rows = {r.key: r for r in jobs.query()["rowDatas"]}
    assert sorted(rows) == ["a", "b", "old"]
    assert (rows["a"].id, rows["a"].status, rows["a"].body) == (answer[0], "pending", "secret a")
    assert jobs.createManyIfAbsent([]) == []


class Reading(Model):
    """A row of every scalar kind, and JSON (which PostgreSQL's array path leaves to SQLAlchemy)."""

    __tablename__ = "readings"
    __unique__ = (("station", "at"),)
    id = AutoInt(primary_key=True)
    station = Stext(max_length=16, nullable=False)
    at = Datetime(nullable=False)
    day = Date()
    level = Numeric(precision=8, scale=2)
    count = Integer()
    ok = Boolean()
    note = Ltext()


class Tagged(Model):
    __tablename__ = "tagged"
    __unique__ = (("name",),)
    id = AutoInt(primary_key=True)
    name = Stext(max_length=16, nullable=False)
    tags = JitDict()


def test_create_many_if_absent_round_trips_every_scalar_kind_and_json(engine: Engine) -> None:
    readings = Reading.bind(engine)
    at = datetime(2026, 11, 27, 8, 30, 15, 250000, tzinfo=timezone(timedelta(hours=8)))
    rows = [{"station": "s1", "at": at, "day": date(2026, 11, 27), "level": Decimal("12.35"),
             "count": 2**40, "ok": True, "note": "第一"},
            {"station": "s2", "at": at, "day": None, "level": None, "count": None, "ok": None,
             "note": None},
            {"station": "s1", "at": at, "count": 1}]  # the first row's key again
    first, second, again = readings.createManyIfAbsent(rows)
    assert first is not None and second is not None and again is None
    stored = {r.station: r for r in readings.query()["rowDatas"]}
    one = stored["s1"]
    assert (one.at, one.day, one.level, one.count, one.ok, one.note) == (
        at.astimezone(timezone.utc), date(2026, 11, 27), Decimal("12.35"), 2**40, True, "第一")
    assert (stored["s2"].day, stored["s2"].level, stored["s2"].ok, stored["s2"].note) == (None, None, None, None)
    tagged = Tagged.bind(engine)
    assert tagged.createManyIfAbsent([{"name": "a", "tags": {"k": [1, "二"]}}, {"name": "b"}])[0] is not None
    assert {r.name: r.tags for r in tagged.query()["rowDatas"]} == {"a": {"k": [1, "二"]}, "b": None}


class Labelled(Model):
    __tablename__ = "labelled"
    __unique__ = (("name", "tag"),)
    id = AutoInt(primary_key=True)
    name = Stext(max_length=16, nullable=False)
    tag = Stext(max_length=16)


def test_create_many_if_absent_stores_rows_that_all_leave_out_a_nullable_key_field(engine: Engine) -> None:
    labelled = Labelled.bind(engine)
    answer = labelled.createManyIfAbsent([{"name": "b"}, {"name": "c"}])
    assert None not in answer and len(set(answer)) == 2
    assert {(r.name, r.tag) for r in labelled.query()["rowDatas"]} == {("b", None), ("c", None)}


def test_create_many_if_absent_stores_more_rows_than_one_sqlite_statement_takes(engine: Engine) -> None:
    readings = Reading.bind(engine)
    at = datetime(2026, 11, 27, tzinfo=timezone.utc)
    # 7,000 rows of 5 columns: over the 32,700 parameters SQLite's one statement may take.
    rows = [{"station": f"s{i}", "at": at, "count": i, "ok": i % 2 == 0, "note": None} for i in range(7000)]
    answer = readings.createManyIfAbsent([*rows, rows[10]])
    assert len(answer) == 7001 and answer[-1] is None and len(set(answer[:-1])) == 7000
    assert readings.query(Q(count__gte=0), size=1)["totalCount"] == 7000
    found = readings.get(Q(id=answer[1234]))
    assert found is not None and found.station == "s1234"


def test_create_many_if_absent_writes_nothing_when_a_row_is_invalid(jobs: ModelManager) -> None:
    with pytest.raises(FieldValueError, match=r"rowDataList\[1\]"):
        jobs.createManyIfAbsent([job("fine"), {**job("bad"), "status": None}])
    with pytest.raises(QueryError, match="a list of dicts"):
        jobs.createManyIfAbsent(job("one"))  # type: ignore[arg-type]
    assert jobs.query()["totalCount"] == 0
