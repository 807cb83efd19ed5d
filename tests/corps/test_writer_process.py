"""A large org's member writes move to a child process; a writer that cannot start or ends changes nothing.

Writer processes here either open the app from the sync's recipe, or use a standard-library call as
their "store": ``time.sleep`` returns None at once (ready at once; a batch with rows then fails, an
empty batch writes nothing) or after a while (a process slow to start), ``operator.truediv(1, 0)``
fails to start.
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, cast

import pytest

import jitlite
from jitlite.meta.corps import WeComCorp
from jitlite.sandbox import generate_corp
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import utc_now
from jitlite.wecom import orgsync
from jitlite.wecom.orgsync import OrgSync, OrgSyncError, StoreRecipe, _WriterProcess, member_row

from ..waiting import wait_for
from .conftest import CORP, CORP_ELEMENT, PROXY, authorise, mute_callbacks, wait_callbacks

BIG_CORP = "wwsandboxcorp0003"


def recipe_of(call: Callable[..., object], *args: object) -> StoreRecipe:
    """Return a writer recipe whose "store" is what ``call(*args)`` returns."""
    return cast(StoreRecipe, (call, args))


READY_AT_ONCE = recipe_of(time.sleep, 0)  # the child's "store" is None: it answers empty batches
CANNOT_START = recipe_of(operator.truediv, 1, 0)


class _WaitingWriter(_WriterProcess):
    """A writer process the sync waits for (bounded) before its first batch, so the child writes them all."""

    made: ClassVar[list[_WaitingWriter]] = []

    def __init__(self, recipe: Any) -> None:
        super().__init__(recipe)
        _WaitingWriter.made.append(self)

    def usable(self) -> bool:
        """Wait until the process is up, or given up; then tell as the real one does."""
        wait_for(lambda: _WriterProcess.usable(self) or self.given_up, 60, "the writer process to start")
        return not self.given_up


class _SlowToRead(_WriterProcess):
    """A writer process whose answers are read only after it ended: what a busy sync's process may see."""

    def _take(self, kind: str, value: Any) -> None:
        if kind in ("written", "closed"):
            self._process.join(10)
        super()._take(kind, value)


@pytest.fixture
def waiting_writers(monkeypatch: pytest.MonkeyPatch) -> list[_WaitingWriter]:
    """Make syncs use _WaitingWriter; return the writer processes they start."""
    monkeypatch.setattr(_WaitingWriter, "made", [])
    monkeypatch.setattr(orgsync, "_WriterProcess", _WaitingWriter)
    return _WaitingWriter.made


@pytest.fixture
def big_app(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The default app with a 400-member corp authorised, whose writer process takes over after 100."""
    sandbox.state.add_corp(generate_corp(400, 12, corp_id=BIG_CORP, corp_name="大公司"))
    app = open_app(orgSyncWriterProcessAfter=100, orgSyncBatchSize=50)
    authorise(app, sandbox, BIG_CORP)
    return app


def wait_until_up(process: _WriterProcess) -> None:
    """Wait (bounded) until a writer process takes batches."""
    wait_for(process.usable, 60, "the writer process to start")


def test_a_writer_process_writes_what_the_sync_hands_it(big_app: jitlite.App, sandbox: Sandbox,
                                                         waiting_writers: list[_WaitingWriter]) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    assert corp.orgSync().writer_process is not None
    report = corp.syncCorp()
    assert (report["created"], report["members"], report["rowsWritten"]) == (412, 400, 412)
    # Every member batch was written by the child: 400 members in batches of 50; the 12 departments here.
    [writer] = waiting_writers
    assert (writer.batches_written, writer.written, writer.given_up) == (8, 400, False)
    expected = {m.userid: m.name for m in sandbox.state.corp(BIG_CORP).members.values()}
    assert {m.memberId: m.name for m in corp.getMembers()} == expected
    assert corp.syncCorp()["rowsWritten"] == 0
    assert len(waiting_writers) == 1  # nothing to write: no process started
    mute_callbacks(sandbox)
    gone = next(iter(expected))
    sandbox.state.delete_member(BIG_CORP, gone)
    assert corp.syncCorp()["offline"] == 1 and corp.getMember(gone).status == "offline"


def test_a_sync_whose_writer_process_cannot_start_writes_everything_itself(
        big_app: jitlite.App, waiting_writers: list[_WaitingWriter]) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    engine = corp.orgSync()
    failing = OrgSync(engine.client, engine.store, batch_size=50, writer_process=CANNOT_START,
                      writer_process_after=100)
    report = failing.sync()
    assert (report.created, report.members, report.rowsWritten) == (412, 400, 412)
    [writer] = waiting_writers
    assert writer.given_up and writer.batches_written == 0
    assert len(corp.getMembers()) == 400


def test_a_writer_process_that_cannot_start_is_given_up_and_finishes_cleanly() -> None:
    process = _WriterProcess(CANNOT_START)
    try:
        wait_for(lambda: not process.usable() and process.given_up, 30, "the failed start to be seen")
        assert not process.usable() and not process.send([], [], utc_now())
        assert process.finish() == 0
    finally:
        process.abandon()


def test_a_writer_process_slow_to_start_is_given_up_and_stopped_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orgsync, "_WRITER_START_SECONDS", 0.3)
    process = _WriterProcess(recipe_of(time.sleep, 30))
    try:
        started = time.monotonic()
        wait_for(lambda: not process.usable() and process.given_up, 10, "the slow start to be given up")
        assert time.monotonic() - started < 3  # terminated, not waited for
        assert process.finish() == 0
    finally:
        process.abandon()


def test_a_writer_process_sent_nothing_is_stopped_without_waiting_for_it() -> None:
    process = _WriterProcess(recipe_of(time.sleep, 30))
    started = time.monotonic()
    try:
        assert process.finish() == 0
        assert time.monotonic() - started < 3
    finally:
        process.abandon()


def test_finish_reports_a_process_that_failed_with_a_full_queue_instead_of_hanging() -> None:
    before = {t for t in threading.enumerate() if t.name == "QueueFeederThread"}
    process = _WriterProcess(recipe_of(time.sleep, 0.5))  # up after half a second; then its first batch fails
    rows = [{"memberId": "m1"}]
    try:
        for _ in range(5):  # four wait in the queue while the child fails the first
            assert process.send(rows, [], utc_now())
        outcome: list[BaseException | int] = []

        def finish() -> None:
            try:
                outcome.append(process.finish())
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=finish, daemon=True)
        started = time.monotonic()
        waiter.start()
        waiter.join(20)
        assert not waiter.is_alive(), "finish() hung on a queue nobody reads"
        assert time.monotonic() - started < 10
        [error] = outcome
        assert isinstance(error, OrgSyncError)
        assert "writing members failed in the writer process: AttributeError" in str(error)
    finally:
        process.abandon()
    # The process is gone and this process's queue thread did not stay blocked on its pipe.
    wait_for(lambda: {t for t in threading.enumerate() if t.name == "QueueFeederThread"} <= before, 5,
             "the batch queue's feeder thread to end")


def test_a_clean_finish_never_reports_the_ended_process_as_a_failure() -> None:
    process = _SlowToRead(READY_AT_ONCE)
    try:
        wait_until_up(process)
        for _ in range(3):
            assert process.send([], [], utc_now())
        assert process.finish() == 0
        assert process.batches_written == 3
    finally:
        process.abandon()


def test_a_writer_process_that_ended_with_batches_unwritten_fails_the_sync() -> None:
    process = _WriterProcess(recipe_of(time.sleep, 30))
    try:
        assert process.send([], [], utc_now())
        process._process.kill()  # dies before it took its batch
        process._process.join(5)
        with pytest.raises(OrgSyncError, match=r"ended \(exit code -9\) with 1 batches unwritten"):
            process.finish()
    finally:
        process.abandon()


def test_no_writer_process_for_an_in_memory_database_or_when_turned_off(
        open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    app = open_app(orgSyncWriterProcess=False)
    authorise(app, sandbox)
    assert app.getElement(CORP_ELEMENT).orgSync().writer_process is None


def test_a_contact_event_does_not_prepare_a_writer_process(open_app: Callable[..., jitlite.App], sandbox: Sandbox,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_app()
    authorise(app, sandbox)
    corp = app.getElement(CORP_ELEMENT)
    corp.syncCorp()
    built: list[object] = []
    recipe = WeComCorp._writer_recipe

    def counted(self: WeComCorp) -> StoreRecipe | None:
        built.append(self)
        return recipe(self)

    monkeypatch.setattr(WeComCorp, "_writer_recipe", counted)
    sandbox.state.update_member(CORP, "lina", position="销售总监")
    wait_callbacks(app)
    assert corp.getMember("lina").position == "销售总监"
    assert built == []
    assert corp.orgSync().writer_process is not None and len(built) == 1


def test_the_writer_process_writes_batches_and_reports_failures(big_app: jitlite.App) -> None:
    corp = big_app.getElement("corps.QywxProxyType").forCorp(BIG_CORP, authFullName=PROXY)
    recipe = corp.orgSync().writer_process
    assert recipe is not None
    process = _WriterProcess(recipe)
    try:
        wait_until_up(process)  # it opens the app first
        rows = [member_row({"userid": f"m{i}", "name": f"成员{i}", "department": [1]}, corp.corpFullName, BIG_CORP)
                for i in range(30)]
        assert process.send(rows[:20], [], utc_now()) and process.send(rows[20:], [], utc_now())
        assert process.finish() == 30 and process.batches_written == 2
    finally:
        process.abandon()
    assert corp.getMember("m29").name == "成员29" and corp.getMember("m0").deptIds == ["1"]
    # A batch the database refuses ends the process; the sync hears why.
    failing = _WriterProcess(recipe)
    try:
        wait_until_up(failing)
        failing.send([{"memberId": "bad", "corpFullName": corp.corpFullName, "corpId": BIG_CORP, "nope": 1}], [],
                     utc_now())
        with pytest.raises(OrgSyncError, match=r"writing members failed in the writer process.*nope"):
            failing.finish()
    finally:
        failing.abandon()
