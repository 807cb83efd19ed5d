"""Faults on the real topology: Redis restarted empty, PostgreSQL unreachable for a few seconds.

Each test states what it proves. The Celery worker, Redis and PostgreSQL are real; Redis is a private
server (restarting the shared one would disturb other tests) and PostgreSQL is reached through a TCP
proxy on loopback that the test cuts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

import jitlite
from jitlite.runtime import clock
from jitlite.sandbox import defaults
from jitlite.sandbox.server import SandboxServer
from jitlite.wecom.client import CorpClient
from jitlite.wecom.tokens import TokenManager

from ..callbacks import suite_ticket
from ..conftest import DEMO_APP
from ..waiting import wait_for
from .conftest import CALLBACKS, SERVICE, local_topology, need, need_celery
from .faults import CuttableProxy, PrivateRedis

FAST = {"callbackLeaseSeconds": 2.0, "callbackSweepSeconds": 0.5}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    PrivateRedis.available()
    server = PrivateRedis(tmp_path / "redis", local_topology.free_port())
    server.start()
    yield server
    server.stop()


def web_app(topology: Any) -> jitlite.App:
    return jitlite.App(topology.app_dir, environ={k: topology.env[k] for k in ("PG_URL", "REDIS_URL")})


def rows(app: jitlite.App) -> list[Any]:
    return list(app.getElement(CALLBACKS).query(orderList=[["id", 1]], size=100)["rowDatas"])


def test_a_redis_restart_loses_no_callback_and_tokens_are_fetched_again(
        tmp_path: Path, private_redis: PrivateRedis) -> None:
    """Proves: the queue may vanish with Redis, the record in PostgreSQL does not, and the sweep re-sends
    it; cached tokens vanish too and are fetched again (once), with no error for the caller."""
    need_celery()
    topology = local_topology.Topology(DEMO_APP, tmp_path / "topology", pg_url=need("JITLITE_TEST_PG_URL"),
                                       redis_url=private_redis.url, settings=FAST)
    try:
        web = web_app(topology)
        with SandboxServer() as sandbox:
            client = CorpClient(defaults.DEFAULT_CORP_ID, defaults.DEFAULT_AGENT_SECRET, base_url=sandbox.url,
                                tokens=TokenManager(cache=web.defaultCache()))
            first = client.access_token()
            assert client.access_token() == first  # cached in Redis
            service = web.getElement(SERVICE)
            try:
                # No worker yet: the task waits in Redis, the record in PostgreSQL.
                assert service.notify(**suite_ticket("ticket-across-a-restart")).get_data(as_text=True) == "success"
                private_redis.stop()
                private_redis.start()  # empty: the queued task and the cached token are gone
                client.access_token()
                assert len(sandbox.state.request_log("/cgi-bin/gettoken")) == 2
                topology.start_worker()
                topology.start_beat()
                wait_for(lambda: rows(web)[0].status == "done", 30, "beat's sweep to re-send the lost task")
                [record] = rows(web)
                assert (record.attempts, record.note) == (1, "suite_ticket stored")
            finally:
                service.close()
    finally:
        topology.close()


def test_postgresql_unreachable_answers_503_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    """Proves: while PostgreSQL is unreachable a callback is answered 503 (so WeCom delivers it again), not
    "success"; nothing is half-written; once it is back the redelivery is stored once and processed once."""
    need_celery()
    pg_url, redis_url = need("JITLITE_TEST_PG_URL"), need("JITLITE_TEST_REDIS_URL")
    parts = urlsplit(pg_url)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.rsplit("@", 1)
    proxied = urlunsplit(parts._replace(netloc=f"{netloc[0]}@127.0.0.1:{proxy.port}" if len(netloc) == 2
                                        else f"127.0.0.1:{proxy.port}"))
    topology = local_topology.Topology(DEMO_APP, tmp_path / "topology", pg_url=proxied, redis_url=redis_url,
                                       settings=FAST)
    try:
        topology.start_worker()
        web = web_app(topology)
        service = web.getElement(SERVICE)
        try:
            before = suite_ticket("ticket-before-the-outage")
            assert service.notify(**before).get_data(as_text=True) == "success"
            proxy.cut()
            during = suite_ticket("ticket-during-the-outage")
            began = time.monotonic()
            reply = service.notify(**during)
            assert reply.status_code == 503 and reply.get_data(as_text=True) != "success"
            assert time.monotonic() - began < 5  # answered at once, well inside WeCom's patience
            time.sleep(2)  # down for a few seconds
            proxy.restore()
            redelivered = service.notify(**during)  # WeCom's retry: same nonce, same body
            assert (redelivered.status_code, redelivered.get_data(as_text=True)) == (200, "success")
            wait_for(lambda: len(rows(web)) == 2 and all(r.status == "done" for r in rows(web)), 40,
                     "both records to be processed")
            first, second = rows(web)
            assert (second.attempts, second.note) == (1, "suite_ticket stored")
            # Taken in one batch after the outage, the older ticket is superseded by the newer one
            # (done without ever running: 0 attempts); taken alone, it ran once.
            assert (first.attempts, first.note) in (
                (1, "suite_ticket stored"),
                (0, f"superseded by record {second.id}, a newer suite_ticket in the same batch"))
        finally:
            service.close()
    finally:
        topology.close()
        proxy.close()


SUITE = defaults.DEFAULT_SUITE_ID
CORP = defaults.DEFAULT_CORP_ID


def test_wecom_faults_on_the_worker_are_retried_paced_and_shared_through_redis(tmp_path: Path) -> None:
    """Proves, on gunicorn + Celery + PostgreSQL + Redis with the sandbox pushing: pushes are answered
    "success" at once whatever WeCom's API does afterwards; -1, 45033 and HTTP 5xx are retried (at most 3
    tries) and latency only delays processing; 45009 opens a circuit kept in Redis and puts the record
    back to pending, due after the circuit closes, so the next callback's worker makes no call to that
    suite either."""
    need_celery()
    pg_url, redis_url = need("JITLITE_TEST_PG_URL"), need("JITLITE_TEST_REDIS_URL")
    with SandboxServer() as sandbox:
        topology = local_topology.Topology(DEMO_APP, tmp_path / "topology", pg_url=pg_url, redis_url=redis_url,
                                           settings={**FAST, "wecomBaseUrl": sandbox.url})
        try:
            url = topology.start_gunicorn(workers=2, threads=4)
            topology.start_worker()
            web = web_app(topology)
            sandbox.state.update_suite(SUITE, callback_url=f"{url}/callbacks/qywx-proxy")
            sandbox.state.push_suite_ticket(SUITE)
            wait_for(lambda: [r.status for r in rows(web)] == ["done"], 30, "the suite ticket to be stored")

            state = sandbox.state
            # One call's busy answers share its budget of 3 tries (token fetch included): two faults here.
            state.add_fault("/cgi-bin/service/get_suite_token", http_status=502, times=1)
            state.add_fault("/cgi-bin/service/get_permanent_code", errcode=-1, times=1)
            state.add_fault("/cgi-bin/service/get_permanent_code", latency=0.8, times=1)
            began = time.monotonic()
            state.authorize(SUITE, CORP)  # pushes create_auth and waits for the answer
            assert time.monotonic() - began < 1.0  # answered before any of that ran
            assert [p.to_dict().get("answer", "success") for p in state.push_log("create_auth")] == ["success"]
            wait_for(lambda: len(rows(web)) == 2 and rows(web)[1].status == "done", 40,
                     "create_auth to be processed after the retries")
            assert rows(web)[1].note.startswith(f"permanent code stored for {CORP}")
            assert len(state.request_log("/cgi-bin/service/get_suite_token")) == 2  # 502, then success
            assert len(state.request_log("/cgi-bin/service/get_permanent_code")) == 2  # -1 (after 0.8 s), then success

            state.add_fault("/cgi-bin/service/get_auth_info", errcode=45033, times=1)
            state.change_auth(SUITE, CORP)
            wait_for(lambda: len(rows(web)) == 3 and rows(web)[2].status == "done", 40, "change_auth after 45033")
            assert len(state.request_log("/cgi-bin/service/get_auth_info")) == 2

            state.add_fault("/cgi-bin/service/get_auth_info", errcode=45009)
            time.sleep(1.1)  # a change_auth in the same second is the same payload: deduplicated, not stored
            state.change_auth(SUITE, CORP)
            wait_for(lambda: len(rows(web)) == 4 and rows(web)[3].lastError is not None, 40,
                     "change_auth to meet 45009")
            limited = rows(web)[3]
            assert limited.status == "pending" and "45009" in limited.lastError
            assert limited.leaseExpiresAt >= clock.utc_now() + timedelta(seconds=50)  # after the 60 s circuit
            assert len(state.request_log("/cgi-bin/service/get_auth_info")) == 3  # 45009 is not retried
            assert TokenManager(cache=web.defaultCache()).circuit_open_until(SUITE) is not None  # shared in Redis
            time.sleep(1.1)
            state.change_auth(SUITE, CORP)
            wait_for(lambda: len(rows(web)) == 5 and rows(web)[4].lastError is not None, 40,
                     "the next change_auth to be refused by the open circuit")
            assert rows(web)[4].status == "pending" and "circuit open" in rows(web)[4].lastError
            assert len(state.request_log("/cgi-bin/service/get_auth_info")) == 3  # no call while the circuit is open
        except AssertionError as exc:
            calls = [(r.path, r.status, r.errcode, r.fault) for r in sandbox.state.request_log()]
            raise AssertionError(f"{exc}\n--- sandbox calls ---\n{calls}\n--- worker log ---\n"
                                 f"{topology.log('worker')[-3000:]}\n--- gunicorn log ---\n"
                                 f"{topology.log('gunicorn')[-2000:]}") from None
        finally:
            topology.close()
