"""The callback inbox under failure: killed workers, a database that refuses writes, replayed echostr.

Each test drives the proxy service's ``notify`` with callbacks encrypted as WeCom would, on a copy of
the demo app; the storage tests run on SQLite and PostgreSQL, with the replay cache in memory and in
Redis.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jitlite
from jitlite.meta.inbox import LeaseHeld
from jitlite.runtime import clock
from jitlite.runtime.errors import ElementBuildError
from jitlite.wecom.context import WeComContext

from ..callbacks import SUITE_ID, pusher, suite_ticket
from ..conftest import DEMO_APP
from ..waiting import wait_for
from .conftest import PROXY, SERVICE

CALLBACK_TABLE = "jit_qywx_proxy_callback"
FAST_LEASES = {"callbackLeaseSeconds": 1.0, "callbackSweepSeconds": 0.2}

def answer(response: Any) -> tuple[int, str]:
    return response.status_code, response.get_data(as_text=True)


def records(app: jitlite.App) -> list[Any]:
    model = app.getElement("auths.loginTypes.QywxProxyType.QywxProxyCallbackModel")
    return list(model.query(orderList=[["id", 1]], size=100)["rowDatas"])


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    """A copy of the demo app (its own database under appData/)."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    return root


@pytest.fixture
def open_app(app_root: Path) -> Iterator[Callable[..., jitlite.App]]:
    """Open (or re-open, as another process would) the app, with settings; close services afterwards."""
    opened: list[jitlite.App] = []

    def open_(environ: dict[str, str] | None = None, **settings: Any) -> jitlite.App:
        app = jitlite.App(app_root, environ=environ or {})
        app.configure(**settings)
        opened.append(app)
        return app

    yield open_
    for app in opened:
        if SERVICE in app._objects:
            app.getElement(SERVICE).close()


# -- a worker killed in the middle of a handler -----------------------------------------------

CHILD = r"""
import json, pathlib, sys, time
import jitlite

root, marker, args = sys.argv[1], pathlib.Path(sys.argv[2]), json.loads(sys.argv[3])
app = jitlite.App(root, environ={})
app.configure(callbackLeaseSeconds=1.0, callbackSweepSeconds=0)
service = app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService")

def blocking(instance, fields):
    marker.write_text("in handler")
    time.sleep(60)  # SIGKILLed long before this ends
    return "not reached"

service.handlers["suite_ticket"] = blocking
answer = service.notify(**args).get_data(as_text=True)
marker.with_suffix(".answer").write_text(answer)
time.sleep(60)
"""


@contextmanager
def worker_in_handler(root: Path, args: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a worker process that takes the callback and blocks in its handler; yield the process."""
    marker = tmp_path / "in-handler"
    log = (tmp_path / "child.log").open("w")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(marker), json.dumps(args)],
                             stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (marker.with_suffix(".answer").exists() and marker.exists()) or child.poll() is not None,
                 60, "the worker to answer and enter its handler")
        assert child.poll() is None, (tmp_path / "child.log").read_text()
        assert marker.with_suffix(".answer").read_text() == "success"
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        log.close()


def kill(worker: subprocess.Popen[bytes]) -> int:
    """SIGKILL the worker (no cleanup, as an OOM kill) and return its exit status."""
    os.kill(worker.pid, signal.SIGKILL)
    return worker.wait(timeout=10)


def test_a_record_whose_worker_was_killed_is_finished_at_the_next_start(
        open_app: Callable[..., jitlite.App], app_root: Path, tmp_path: Path) -> None:
    args = suite_ticket("ticket-after-a-crash")
    with worker_in_handler(app_root, args, tmp_path) as worker:
        observer = open_app()
        [record] = records(observer)
        assert record.status == "processing" and record.attempts == 1
        child_owner = record.leaseOwner
        assert f":{worker.pid}:" in child_owner  # host:pid:id:claim
        assert kill(worker) == -signal.SIGKILL
    # The claim dies with its worker: once its lease has run out, the next start takes it over.
    wait_for(lambda: records(observer)[0].leaseExpiresAt < clock.utc_now(), 10, "the dead worker's lease to expire")
    restarted = open_app(callbackLeaseSeconds=1.0, callbackSweepSeconds=0)  # start-up alone must do it
    assert restarted.getElement(SERVICE).waitIdle(10)
    [record] = records(restarted)
    assert (record.status, record.attempts, record.note) == ("done", 2, "suite_ticket stored")
    assert record.leaseOwner != child_owner and record.leaseExpiresAt is None
    assert WeComContext.of(restarted).tickets.latest(SUITE_ID)[0] == "ticket-after-a-crash"  # type: ignore[index]


def test_a_running_process_takes_over_a_killed_workers_record_when_its_lease_expires(
        open_app: Callable[..., jitlite.App], app_root: Path, tmp_path: Path) -> None:
    args = suite_ticket("ticket-taken-over")
    with worker_in_handler(app_root, args, tmp_path) as worker:
        survivor = open_app(**FAST_LEASES)
        service = survivor.getElement(SERVICE)  # starts while the worker's lease is live: leaves it alone
        time.sleep(1.2)  # longer than the lease: the live worker keeps renewing it
        [record] = records(survivor)
        assert (record.status, record.attempts) == ("processing", 1)
        with pytest.raises(LeaseHeld, match=rf"being processed by \S+:{worker.pid}:\S+ under a lease that expires at"):
            service.retryCallBack(recordId=record.id)
        kill(worker)
        wait_for(lambda: records(survivor)[0].status == "done", 15, "the sweep to take the record over")
    [record] = records(survivor)
    assert (record.attempts, record.note) == (2, "suite_ticket stored")
    assert WeComContext.of(survivor).tickets.latest(SUITE_ID)[0] == "ticket-taken-over"  # type: ignore[index]


def test_a_long_handler_keeps_its_lease_so_no_other_process_runs_it_again(
        open_app: Callable[..., jitlite.App]) -> None:
    first, second = open_app(**FAST_LEASES), open_app(**FAST_LEASES)
    service, other = first.getElement(SERVICE), second.getElement(SERVICE)
    original = service.handlers["suite_ticket"]
    runs, expiries = [], []

    def slow(instance: Any, fields: dict[str, str]) -> str:
        runs.append(instance.fullName)
        for _ in range(3):  # 1.5 s in all, half again the lease: only renewal keeps the claim
            expiries.append(records(first)[0].leaseExpiresAt)
            time.sleep(0.5)
        return str(original(instance, fields))

    service.handlers["suite_ticket"] = slow
    other.handlers["suite_ticket"] = slow  # the other process sweeps every 0.2 s for expired leases
    assert answer(service.notify(**suite_ticket("slow-ticket"))) == (200, "success")
    assert service.waitIdle(10) and other.waitIdle(10)
    [record] = records(first)
    assert (record.status, record.attempts, len(runs)) == ("done", 1, 1)
    assert expiries[-1] > expiries[0]  # renewed while the handler ran


def test_start_up_resumes_pending_records_and_expired_claims(open_app: Callable[..., jitlite.App]) -> None:
    app = open_app(callbackSweepSeconds=0)
    model = app.getElement("auths.loginTypes.QywxProxyType.QywxProxyCallbackModel")
    now = clock.utc_now()
    left_behind: list[dict[str, Any]] = [
        {"status": "pending"},  # stored, then the process died before running it
        {"status": "processing", "attempts": 1, "processedAt": now - timedelta(minutes=10),
         "leaseOwner": "gone-host:4242:0badc0de:1", "leaseExpiresAt": now - timedelta(minutes=5)},
        {"status": "processing", "attempts": 1, "processedAt": now - timedelta(hours=1)},  # claimed before leases
    ]
    for index, extra in enumerate(left_behind):
        xml = (f"<xml><SuiteId>{SUITE_ID}</SuiteId><InfoType>suite_ticket</InfoType>"
               f"<TimeStamp>{1000 + index}</TimeStamp><SuiteTicket>left-{index}</SuiteTicket></xml>")
        model.create({"authFullName": PROXY, "suiteId": SUITE_ID, "infoType": "suite_ticket",
                      "payloadHash": f"{index:064d}", "payload": xml, **extra})
    restarted = open_app(callbackSweepSeconds=0)
    assert restarted.getElement(SERVICE).waitIdle(10)
    rows = records(restarted)
    assert [r.status for r in rows] == ["done"] * 3
    # The newest (TimeStamp 1002) runs; an older one claimed in its batch is superseded instead.
    superseded = f"superseded by record {rows[2].id}, a newer suite_ticket in the same batch"
    assert all(r.note in ("suite_ticket stored", superseded) for r in rows[:2])
    assert rows[2].note == "suite_ticket stored"
    assert WeComContext.of(restarted).tickets.latest(SUITE_ID)[0] == "left-2"  # type: ignore[index]


def test_retry_refuses_a_live_lease_and_takes_an_expired_one(open_app: Callable[..., jitlite.App]) -> None:
    app = open_app()
    service = app.getElement(SERVICE)
    until = clock.utc_now() + timedelta(minutes=3)
    xml = (f"<xml><SuiteId>{SUITE_ID}</SuiteId><InfoType>suite_ticket</InfoType><TimeStamp>5</TimeStamp>"
           "<SuiteTicket>held</SuiteTicket></xml>")
    row = service.records.create({
        "authFullName": PROXY, "suiteId": SUITE_ID, "infoType": "suite_ticket", "payloadHash": "f" * 64,
        "payload": xml, "status": "processing", "attempts": 1, "processedAt": clock.utc_now(),
        "leaseOwner": "other-host:77:cafe0001:3", "leaseExpiresAt": until})
    with pytest.raises(LeaseHeld) as held:
        service.retryCallBack(recordId=row.id)
    message = str(held.value)
    assert "other-host:77:cafe0001:3" in message and until.isoformat(timespec="seconds") in message
    assert service.records.get(f"Q(id={row.id})").status == "processing"  # untouched
    service.records.updateByPK(row.id, {"leaseExpiresAt": clock.utc_now() - timedelta(seconds=1)})
    service.retryCallBack(recordId=row.id)
    done = service.records.get(f"Q(id={row.id})")
    assert (done.status, done.attempts, done.note) == ("done", 2, "suite_ticket stored")


@pytest.mark.parametrize(("name", "value"), [("callbackLeaseSeconds", 0), ("callbackSweepSeconds", -1),
                                             ("callbackLeaseSeconds", "5m"), ("callbackSweepSeconds", True)])
def test_lease_settings_are_checked(open_app: Callable[..., jitlite.App], name: str, value: Any) -> None:
    app = open_app(**{name: value})
    with pytest.raises(ElementBuildError, match=f"setting '{name}' must be a number of seconds"):
        app.getElement(SERVICE)


# -- storage failures: never "success" for a callback that was not stored ----------------------


def _pg_url_or_skip() -> str:
    url = os.environ.get("JITLITE_TEST_PG_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail('CI=true but JITLITE_TEST_PG_URL is not set (eval "$(.ci/services)")', pytrace=False)
        pytest.skip("JITLITE_TEST_PG_URL is not set")
    return url


def _redis_url_or_skip() -> str:
    url = os.environ.get("JITLITE_TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail('CI=true but JITLITE_TEST_REDIS_URL is not set (eval "$(.ci/services)")', pytrace=False)
        pytest.skip("JITLITE_TEST_REDIS_URL is not set")
    return url


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture(params=[("sqlite", "memory"), ("postgresql", "memory"), ("sqlite", "redis"),
                        ("postgresql", "redis")], ids=lambda p: f"{p[0]}-{p[1]}")
def stores(request: pytest.FixtureRequest, app_root: Path) -> Iterator[tuple[str, dict[str, str], str | None]]:
    """Point the app at the database and replay cache under test; yield (database, environ, PG schema)."""
    database, cache = request.param
    environ: dict[str, str] = {}
    schema = None
    admin = None
    if database == "postgresql":
        url = _pg_url_or_skip()
        schema = "inbox_" + secrets.token_hex(6)
        admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        _write(app_root / "databases/Default/e.json", {"title": "PostgreSQL", "type": "databases.PgSqlType",
                                                        "variables": [{"name": "PG_URL", "required": True}]})
        _write(app_root / "databases/Default/Default.json", {"url": "{{PG_URL}}", "schema": schema})
        environ["PG_URL"] = url
    if cache == "redis":
        environ["REDIS_URL"] = _redis_url_or_skip()
        _write(app_root / "caches/Default/e.json", {"title": "Redis", "type": "caches.RedisType",
                                                     "variables": [{"name": "REDIS_URL", "required": True}]})
        _write(app_root / "caches/Default/Default.json", {"url": "{{REDIS_URL}}"})
    try:
        yield database, environ, schema
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


@contextmanager
def writes_refused(app: jitlite.App, database: str, schema: str | None) -> Iterator[None]:
    """Hold an exclusive lock on the callback table from another connection; the app's writes time out fast."""
    engine = app.getElement("databases.Default").engine

    @sa.event.listens_for(engine, "connect")
    def _short_waits(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if database == "sqlite":
            cursor.execute("PRAGMA busy_timeout=300")
        else:
            cursor.execute("SET lock_timeout = '300ms'")
            dbapi_connection.commit()
        cursor.close()

    engine.dispose()  # new connections get the short waits
    if database == "sqlite":
        locker = sqlite3.connect(engine.url.database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    url = engine.url
    with sa.create_engine(url.set(query={})).connect() as conn, conn.begin() as transaction:
        conn.exec_driver_sql(f"LOCK TABLE {schema}.{CALLBACK_TABLE} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            transaction.rollback()


def test_a_callback_the_database_refused_is_answered_503_and_its_redelivery_stored_once(
        stores: tuple[str, dict[str, str], str | None], open_app: Callable[..., jitlite.App]) -> None:
    database, environ, schema = stores
    app = open_app(environ)
    service = app.getElement(SERVICE)
    args = suite_ticket("ticket-" + secrets.token_hex(4))
    with writes_refused(app, database, schema):
        status, text = answer(service.notify(**args))
        assert status == 503 and text != "success"  # WeCom will deliver it again
    assert records(app) == []
    # WeCom's retry is the identical request: same nonce, timestamp and signature.
    assert answer(service.notify(**args)) == (200, "success")
    assert answer(service.notify(**args)) == (200, "success")  # a replay of a stored payload: acknowledged
    assert service.waitIdle(10)
    assert [(r.status, r.attempts) for r in records(app)] == [("done", 1)]


def test_a_replay_within_the_window_is_acknowledged_but_neither_stored_nor_run_again(
        open_app: Callable[..., jitlite.App]) -> None:
    app = open_app()
    service = app.getElement(SERVICE)
    args = suite_ticket("replayed")
    assert answer(service.notify(**args)) == (200, "success")
    assert service.waitIdle(10)
    # The signature binds nonce and timestamp to the ciphertext: a replay is the stored payload again.
    assert answer(service.notify(**args)) == (200, "success")
    assert service.waitIdle(10)
    assert [(r.status, r.attempts) for r in records(app)] == [("done", 1)]


def test_a_replay_outside_the_window_is_refused(open_app: Callable[..., jitlite.App]) -> None:
    app = open_app(callbackTimestampWindow=300)
    service = app.getElement(SERVICE)
    args = suite_ticket("captured", when=int(clock.now()) - 301)
    assert answer(service.notify(**args)) == (400, "invalid callback")
    assert records(app) == []


def test_ticket_records_outlive_the_replay_window_before_they_are_purged(
        open_app: Callable[..., jitlite.App]) -> None:
    app = open_app(callbackTimestampWindow=2 * 86400, callbackSweepSeconds=0)
    service = app.getElement(SERVICE)
    now = clock.utc_now()
    for index, age in enumerate((timedelta(days=3), timedelta(days=5), timedelta(days=1, hours=1))):
        service.records.create({"authFullName": PROXY, "suiteId": SUITE_ID, "infoType": "suite_ticket",
                                "payloadHash": f"{index:064d}", "payload": "<xml/>", "status": "done",
                                "receivedAt": now - age})
    later = clock.now() + 601  # the start-up sweep purged already; the next purge is due ten minutes later
    with clock.use_clock(lambda: later):
        service.inbox.sweep()
    # A day is the usual retention, but a replay may come for twice this window (4 days): only the
    # 5-day-old record may go.
    assert sorted(r.payloadHash[-1] for r in records(app)) == ["0", "2"]


# -- URL verification is not a decryption oracle ------------------------------------------------


def test_a_captured_posts_encrypt_replayed_as_echostr_is_refused_and_the_post_still_accepted(
        open_app: Callable[..., jitlite.App]) -> None:
    app = open_app()
    service = app.getElement(SERVICE)
    captured = suite_ticket("a-secret-ticket")
    encrypt = captured["body"].split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    # The POST's query signs (token, timestamp, nonce, Encrypt): exactly what a GET's echostr needs.
    oracle = service.notify(nonce=captured["nonce"], msg_signature=captured["msg_signature"],
                            timestamp=captured["timestamp"], echostr=encrypt)
    assert answer(oracle) == (400, "invalid callback")
    assert answer(service.notify(**captured)) == (200, "success")  # its nonce was not spent by the GET
    assert service.waitIdle(10)
    assert [r.status for r in records(app)] == ["done"]


def test_url_verification_checks_the_receive_id_and_echoes_only_plain_text(
        open_app: Callable[..., jitlite.App]) -> None:
    service = open_app().getElement(SERVICE)
    timestamp = str(int(clock.now()))

    def verify(echo: str, receive_id: str, nonce: str) -> tuple[int, str]:
        echostr = pusher.encrypt(echo, receive_id)
        return answer(service.notify(nonce=nonce, timestamp=timestamp, echostr=echostr,
                                     msg_signature=pusher.signature(timestamp, nonce, echostr)))

    assert verify("6029436120345217531", SUITE_ID, "v1") == (200, "6029436120345217531")
    assert verify("6029436120345217531", SUITE_ID, "v1") == (200, "6029436120345217531")  # no nonce spent
    assert verify("6029436120345217531", "wwstranger", "v2") == (403, "invalid callback")
    assert verify("<xml><A>1</A></xml>", SUITE_ID, "v3") == (400, "invalid callback")
    assert verify("9" * 129, SUITE_ID, "v4") == (400, "invalid callback")


# -- time comes from the one clock -------------------------------------------------------------


def test_a_callback_recorded_in_the_past_is_accepted_under_an_injected_clock(
        open_app: Callable[..., jitlite.App]) -> None:
    then = 1_600_000_000
    service = open_app().getElement(SERVICE)
    args = suite_ticket("from-2020", when=then)
    assert answer(service.notify(**args))[0] == 400  # stale against the real time
    with clock.use_clock(lambda: then + 30.0):
        assert answer(service.notify(**args)) == (200, "success")
        assert service.waitIdle(10)
        [record] = records(service.app)
    assert record.status == "done"
    assert record.receivedAt == datetime.fromtimestamp(then + 30, timezone.utc)
    assert record.processedAt == datetime.fromtimestamp(then + 30, timezone.utc)
