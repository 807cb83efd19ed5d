"""A large org's member writes move to a child process; a writer that cannot start changes nothing."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable

import pytest

import jitlite
from jitlite.sandbox import generate_corp
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import utc_now
from jitlite.wecom.orgsync import OrgSync, OrgSyncError, _WriterProcess, member_row

from .conftest import PROXY, authorise

BIG_CORP = "wwsandboxcorp0003"


@pytest.fixture
def big_app(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The default app with a 400-member corp authorised, whose writer process takes over after 100."""
    sandbox.state.add_corp(generate_corp(400, 12, corp_id=BIG_CORP, corp_name="大公司"))
    app = open_app(orgSyncWriterProcessAfter=100, orgSyncBatchSize=50)
    authorise(app, sandbox, BIG_CORP)
    return app


def test_a_writer_process_writes_what_the_sync_hands_it(big_app: jitlite.App, sandbox: Sandbox) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    assert corp.orgSync().writer_process is not None
    report = corp.syncCorp()
    assert (report["created"], report["members"], report["rowsWritten"]) == (412, 400, 412)
    expected = {m.userid: m.name for m in sandbox.state.corp(BIG_CORP).members.values()}
    assert {m.memberId: m.name for m in corp.getMembers()} == expected
    assert corp.syncCorp()["rowsWritten"] == 0
    sandbox.state.update_suite("tjsandboxsuite0001", callback_url=None, data_callback_url=None)
    gone = next(iter(expected))
    sandbox.state.delete_member(BIG_CORP, gone)
    assert corp.syncCorp()["offline"] == 1 and corp.getMember(gone).status == "offline"


def test_a_writer_process_that_cannot_start_leaves_the_writing_here(big_app: jitlite.App) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    engine = corp.orgSync()
    failing = OrgSync(engine.client, engine.store, batch_size=50, writer_process=(operator.truediv, (1, 0)),
                      writer_process_after=100)
    report = failing.sync()
    assert (report.created, report.members, report.rowsWritten) == (412, 400, 412)
    assert len(corp.getMembers()) == 400


def test_no_writer_process_for_an_in_memory_database_or_when_turned_off(
        open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    app = open_app(orgSyncWriterProcess=False)
    authorise(app, sandbox)
    assert app.getElement("corps.MyQywxProxyCorp").orgSync().writer_process is None


def test_the_writer_process_writes_batches_and_reports_failures(big_app: jitlite.App) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    recipe = corp.orgSync().writer_process
    assert recipe is not None
    process = _WriterProcess(recipe)
    try:
        deadline = time.monotonic() + 60
        while not process.usable():  # it opens the app first
            assert time.monotonic() < deadline, "the writer process did not start"
            time.sleep(0.05)
        rows = [member_row({"userid": f"m{i}", "name": f"成员{i}", "department": [1]}, corp.corpFullName, BIG_CORP)
                for i in range(30)]
        process.send(rows[:20], [], utc_now())
        process.send(rows[20:], [], utc_now())
        assert process.finish() == 30
    finally:
        process.abandon()
    assert corp.getMember("m29").name == "成员29" and corp.getMember("m0").deptIds == ["1"]
    # A batch the database refuses ends the process; the sync hears why.
    failing = _WriterProcess(recipe)
    try:
        deadline = time.monotonic() + 60
        while not failing.usable():
            assert time.monotonic() < deadline, "the writer process did not start"
            time.sleep(0.05)
        failing.send([{"memberId": "bad", "corpFullName": corp.corpFullName, "corpId": BIG_CORP, "nope": 1}], [],
                     utc_now())
        with pytest.raises(OrgSyncError, match=r"writing members failed in the writer process.*nope"):
            failing.finish()
    finally:
        failing.abandon()
