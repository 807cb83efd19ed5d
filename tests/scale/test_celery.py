"""Background work on a real Celery worker (Redis broker) with the callback records in PostgreSQL.

What these prove: the task carries only the record id and the row decides what runs; a task delivered
twice runs its handler once; a worker SIGKILLed in the middle of a handler loses nothing (the lease
runs out, the sweep re-sends the id, another worker finishes it); a record whose task was lost with
the broker's queue is found by beat's sweep; a sync task reports a failed sync instead of raising.
"""

from __future__ import annotations

import os
import signal
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import jitlite
from jitlite.runtime import clock
from jitlite.tasks import SYNC_CORP, reconcile, sync_corp
from jitlite.tasks.runner import PROCESS_CALLBACKS, CeleryRunner, producer

from ..callbacks import suite_ticket
from ..waiting import wait_for
from .conftest import CALLBACKS, SERVICE

BLOCKING_SERVICE = '''
"""The official proxy service, with a suite_ticket handler that blocks while appData/block exists."""
import time
from pathlib import Path

from jitlite.types.auths.loginTypes.QywxProxyType.services.QywxProxyAuthService import QywxProxyAuthService as Base


class BlockingService(Base):
    def _on_suite_ticket(self, instance, fields):
        block = Path(self.app.appDataDir) / "block"
        if block.exists():
            (Path(self.app.appDataDir) / "in-handler").write_text(str(__import__("os").getpid()))
            time.sleep(60)  # SIGKILLed long before this ends
        return super()._on_suite_ticket(instance, fields)
'''


def open_web(topology: Any) -> jitlite.App:
    """Open the app as a web process would (this test process), on the topology's stores and queue."""
    return jitlite.App(topology.app_dir, environ={k: topology.env[k] for k in ("PG_URL", "REDIS_URL")})


def rows(app: jitlite.App) -> list[Any]:
    return list(app.getElement(CALLBACKS).query(orderList=[["id", 1]], size=100)["rowDatas"])


def test_a_callback_is_processed_by_the_celery_worker_and_a_second_delivery_is_harmless(topology: Any) -> None:
    topology.start_worker()
    web = open_web(topology)
    service = web.getElement(SERVICE)
    try:
        assert isinstance(service.inbox._runner, CeleryRunner)  # chosen by the setting taskQueue alone
        reply = service.notify(**suite_ticket("ticket-on-celery"))
        assert (reply.status_code, reply.get_data(as_text=True)) == (200, "success")
        assert service.waitIdle(30)
        [record] = rows(web)
        assert (record.status, record.attempts, record.note) == ("done", 1, "suite_ticket stored")
        assert f":{os.getpid()}:" not in record.leaseOwner  # another process (the worker) ran it
        # The same id delivered again (a redelivered message): the claim is a no-op, the handler does not rerun.
        producer(topology.env["JITLITE_BROKER_URL"]).send_task(PROCESS_CALLBACKS, args=[SERVICE, [record.id]],
                                                                queue=topology.queue)
        wait_for(lambda: topology.log("worker").count("succeeded") >= 2, 20, "the second delivery to run")
        [again] = rows(web)
        assert (again.status, again.attempts, again.leaseOwner) == ("done", 1, record.leaseOwner)
    finally:
        service.close()


def test_a_worker_sigkilled_mid_callback_is_finished_by_another_worker(topology: Any) -> None:
    folder = topology.app_dir / "auths/loginTypes/QywxProxyType/services/QywxProxyAuthService"
    folder.mkdir(parents=True)
    (folder / "e.json").write_text('{"title": "Blocking proxy service", "type": "services.NormalType", '
                                   '"className": "BlockingService", "backendBundleEntry": "."}')
    (folder / "__init__.py").write_text(textwrap.dedent(BLOCKING_SERVICE))
    web = open_web(topology)
    app_data = Path(web.appDataDir)
    (app_data / "block").write_text("1")
    first = topology.start_worker("first")
    service = web.getElement(SERVICE)
    try:
        assert service.notify(**suite_ticket("ticket-survives-a-kill")).get_data(as_text=True) == "success"
        wait_for(lambda: (app_data / "in-handler").exists(), 30, "the first worker to enter the handler")
        [record] = rows(web)
        assert record.status == "processing" and record.attempts == 1
        assert f":{(app_data / 'in-handler').read_text()}:" in record.leaseOwner
        (app_data / "block").unlink()
        assert topology.stop("first", signal.SIGKILL) is not None and first.poll() is not None  # no cleanup ran
        topology.start_worker("second")
        topology.start_beat()
        # The lease (2 s) runs out, beat's sweep re-sends the id, the second worker claims and finishes it.
        wait_for(lambda: rows(web)[0].status == "done", 30, "the second worker to finish the record")
        [record] = rows(web)
        assert (record.attempts, record.note, record.leaseExpiresAt) == (2, "suite_ticket stored", None)
    finally:
        service.close()


def test_beat_sweeps_a_stored_record_whose_task_was_lost(topology: Any) -> None:
    topology.start_worker()
    model = open_web(topology).getElement(CALLBACKS)
    # A record committed while its task was lost (the broker restarted empty): only the row exists.
    args = suite_ticket("ticket-found-by-beat")
    lost = model.create({"authFullName": "auths.QywxProxyTemp", "suiteId": "tjsandboxsuite0001", "corpId": None,
                         "infoType": "suite_ticket", "payloadHash": "lost-" + args["nonce"],
                         "payload": f"<xml><InfoType>suite_ticket</InfoType><SuiteTicket>lost-ticket</SuiteTicket>"
                                    f"<TimeStamp>{args['timestamp']}</TimeStamp></xml>",
                         "status": "pending", "attempts": 0,
                         # Older than a lease (so the sweep takes it), younger than a day (so the
                         # sweep's purge of day-old tickets leaves it to be seen done).
                         "receivedAt": clock.utc_now() - timedelta(hours=1)})
    topology.start_beat()
    wait_for(lambda: model.get(f"Q(id={lost.id})").status == "done", 40, "beat's sweep to have the record processed")
    assert "jitlite.sweep_callbacks" in topology.log("beat")


def test_reconcile_sends_corp_keys_and_a_sync_task_reports_instead_of_raising(topology: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("JITLITE_APP", str(topology.app_dir))
    for name in ("PG_URL", "REDIS_URL"):
        monkeypatch.setenv(name, topology.env[name])
    from jitlite.tasks import worker_app

    app = worker_app()
    corp = app.getElement("corps.MyQywxProxyCorp")
    # The task is meta.corps.reconcile for one corp: a sync running elsewhere (its lease, tested in
    # tests/corps/test_sync.py) is a skip, and a failing sync is reported, not raised for a retry.
    failed = sync_corp(corp.corpFullName, corp.corpId, corp.authFullName)
    assert list(failed) == ["error"] and failed["error"].startswith("CorpNotAuthorized:")  # nobody authorised it
    assert sync_corp("corps.NoSuchCorp", corp.corpId, corp.authFullName) == {"skipped": "no such organisation"}
    sent: list[tuple[str, list[Any]]] = []
    assert reconcile(send=lambda name, args: sent.append((name, args))) == len(sent) >= 1
    assert (SYNC_CORP, [corp.corpFullName, corp.corpId, corp.authFullName]) in sent  # ids only, one per corp
