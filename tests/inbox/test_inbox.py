"""The callback inbox on its own: any record model, any runner, storage failures, leases and sweeps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from jitlite.meta.inbox import (
    RECORD_FIELDS,
    Accepted,
    CallbackInbox,
    InboxUnavailable,
    LeaseHeld,
    ThreadRunner,
)
from jitlite.runtime import clock
from jitlite.storage import Datetime, Integer, Ltext, Model, ModelManager, Row, Stext, create_sqlite_engine, utc_now


class Delivery(Model):
    """A minimal record model: the inbox fields plus a scope and a payload."""

    __tablename__ = "deliveries"
    __unique__ = (("channel", "payloadHash"),)
    __indexes__ = ("status",)
    channel = Stext(max_length=32)
    payloadHash = Stext(max_length=64)
    payload = Ltext()
    status = Stext(max_length=16, default="pending")
    attempts = Integer(default=0)
    lastError = Ltext(nullable=True)
    note = Ltext(nullable=True)
    receivedAt = Datetime(default=utc_now)
    processedAt = Datetime(nullable=True)
    leaseOwner = Stext(max_length=255, nullable=True)
    leaseExpiresAt = Datetime(nullable=True)


class QueueRunner:
    """A stand-in for a task queue: it only remembers the ids it was handed."""

    def __init__(self, work: Callable[[list[int]], None]) -> None:
        self.work = work
        self.submitted: list[int] = []

    def submit(self, record_id: int) -> None:
        self.submitted.append(record_id)

    def wait_idle(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sqlite_engine(tmp_path / "inbox.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture
def deliveries(engine: Engine) -> ModelManager:
    return Delivery.bind(engine)


@pytest.fixture
def make_inbox(deliveries: ModelManager) -> Iterator[Callable[..., CallbackInbox]]:
    made: list[CallbackInbox] = []

    def make(handle: Callable[[Row], str | None] | None = None, **options: Any) -> CallbackInbox:
        handle = handle or (lambda row: f"handled {row.payload}")
        options.setdefault("sweep_seconds", 0)
        inbox = CallbackInbox(deliveries, handle, name="test-inbox", **options)
        made.append(inbox)
        return inbox

    yield make
    for inbox in made:
        inbox.close()


def record(deliveries: ModelManager, record_id: int) -> Row:
    """Return a stored record, which must exist."""
    row = deliveries.get(f"Q(id={record_id})")
    assert row is not None, f"record {record_id} is not stored"
    return row


def delivery(payload: str, channel: str = "a") -> dict[str, Any]:
    return {"channel": channel, "payload": payload, "payloadHash": CallbackInbox.payload_hash(payload)}


def stored_id(accepted: Accepted) -> int:
    """Return the id of the record a first delivery stored."""
    assert accepted.record_id is not None and not accepted.duplicate
    return accepted.record_id


def test_accept_stores_once_per_payload_and_runs_it(make_inbox: Callable[..., CallbackInbox],
                                                    deliveries: ModelManager) -> None:
    inbox = make_inbox()
    first = inbox.accept(delivery("<xml>1</xml>"))
    again = inbox.accept(delivery("<xml>1</xml>"))
    other_scope = inbox.accept(delivery("<xml>1</xml>", channel="b"))
    # A redelivery is acknowledged on the unique key alone: nothing is read, stored or scheduled again.
    assert (again.record_id, again.duplicate, first.duplicate) == (None, True, False)
    assert other_scope.record_id not in (None, first.record_id) and not other_scope.duplicate
    assert inbox.wait_idle(10)
    rows = deliveries.query(orderList=[["id", 1]])["rowDatas"]
    assert [(r.status, r.attempts, r.note, r.leaseExpiresAt) for r in rows] == [
        ("done", 1, "handled <xml>1</xml>", None)] * 2
    assert all(r.leaseOwner.startswith(inbox.owner) for r in rows)


def test_a_store_that_fails_raises_inbox_unavailable(make_inbox: Callable[..., CallbackInbox],
                                                     deliveries: ModelManager, engine: Engine) -> None:
    inbox = make_inbox()
    engine.dispose()
    (Path(str(engine.url.database))).unlink()
    Path(str(engine.url.database)).mkdir()  # a folder where the database file was: every open fails
    with pytest.raises(InboxUnavailable, match="cannot store the callback"):
        inbox.accept(delivery("<xml>lost?</xml>"))


def test_the_runner_is_a_seam_that_carries_only_record_ids(make_inbox: Callable[..., CallbackInbox],
                                                           deliveries: ModelManager) -> None:
    runners: list[QueueRunner] = []

    def queue(work: Callable[[list[int]], None]) -> QueueRunner:
        runners.append(QueueRunner(work))
        return runners[-1]

    inbox = make_inbox(runner=queue)
    record_id = stored_id(inbox.accept(delivery("<xml>queued</xml>")))
    [runner] = runners
    assert runner.submitted == [record_id]
    assert record(deliveries, record_id).status == "pending"
    runner.work([record_id])  # a worker elsewhere runs the task with nothing but the id
    assert record(deliveries, record_id).status == "done"
    runner.work([record_id])  # a duplicate task is a no-op
    assert record(deliveries, record_id).attempts == 1


def test_resume_schedules_every_record_left_behind_in_pages(make_inbox: Callable[..., CallbackInbox],
                                                            deliveries: ModelManager) -> None:
    now = clock.utc_now()
    expired = {"status": "processing", "attempts": 1, "leaseOwner": "dead:1:x:1",
               "leaseExpiresAt": now - timedelta(seconds=1)}
    live = {"status": "processing", "attempts": 1, "leaseOwner": "alive:2:y:1",
            "leaseExpiresAt": now + timedelta(minutes=5)}
    deliveries.createOrUpdateMany([delivery(f"<xml>{i}</xml>") for i in range(450)])
    deliveries.createOrUpdateMany([{**delivery("<xml>expired</xml>"), **expired},
                                   {**delivery("<xml>live</xml>"), **live},
                                   {**delivery("<xml>done</xml>"), "status": "done"},
                                   {**delivery("<xml>failed</xml>"), "status": "failed"}])
    runners: list[QueueRunner] = []
    def queue(work: Callable[[list[int]], None]) -> QueueRunner:
        runners.append(QueueRunner(work))
        return runners[-1]

    inbox = make_inbox(runner=queue)
    assert inbox.resume() == 451
    payloads = {record(deliveries, i).payload for i in runners[0].submitted}
    assert len(runners[0].submitted) == 451 and "<xml>expired</xml>" in payloads
    assert not payloads & {"<xml>live</xml>", "<xml>done</xml>", "<xml>failed</xml>"}
    assert inbox.sweep() == 1  # fresh pending records are left to their storer; the expired claim is not
    assert inbox.resume() == 451
    assert len(runners[0].submitted) == 451  # ids this process already has queued are not queued again


def test_a_failed_handler_is_recorded_redacted_and_retried(make_inbox: Callable[..., CallbackInbox],
                                                          deliveries: ModelManager) -> None:
    outcomes: Iterator[Exception | str] = iter([RuntimeError("upstream said corpsecret=abc123def456 is wrong"),
                                                "second time lucky"])

    def flaky(row: Row) -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    inbox = make_inbox(flaky)
    record_id = stored_id(inbox.accept(delivery("<xml>flaky</xml>")))
    assert inbox.wait_idle(10)
    row = record(deliveries, record_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "RuntimeError" in row.lastError and "abc123def456" not in row.lastError
    done = inbox.retry(record_id)
    assert (done.status, done.attempts, done.note, done.lastError) == ("done", 2, "second time lucky", None)
    with pytest.raises(ValueError, match="is done"):
        inbox.retry(record_id)
    with pytest.raises(LookupError):
        inbox.retry(999_999)


class Busy(Exception):
    """A failure the test's retry policy calls transient."""


def test_a_transient_failure_runs_again_when_due_until_the_attempts_run_out(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    outcomes: list[Exception | str] = [Busy("upstream busy"), Busy("still busy"), "third time lucky",
                                       Busy("busy again"), Busy("busy again"), Busy("busy again"),
                                       RuntimeError("a bug")]
    asked: list[tuple[str, int]] = []

    def flaky(row: Row) -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def delay(error: Exception, attempts: int) -> float | None:
        asked.append((type(error).__name__, attempts))
        return 30.0 * attempts if isinstance(error, Busy) else None

    runners: list[QueueRunner] = []

    def queue(work: Callable[[list[int]], None]) -> QueueRunner:
        runners.append(QueueRunner(work))
        return runners[-1]

    moved = {"now": 1_800_000_000.0}
    with clock.use_clock(lambda: moved["now"]):
        inbox = make_inbox(flaky, runner=queue, retry_delay=delay, max_attempts=3)
        first = stored_id(inbox.accept(delivery("<xml>flaky</xml>")))
        runners[0].work([first])
        row = record(deliveries, first)
        # Back to pending, the error kept, due again in 30 s: not claimable, not swept before then.
        assert (row.status, row.attempts, row.lastError) == ("pending", 1, "Busy: upstream busy")
        assert row.leaseExpiresAt == clock.utc_now() + timedelta(seconds=30)
        assert row.note.startswith("attempt 1 of 3 failed; due again at ")
        assert inbox.settled([first]) == [first]  # waiting for its retry: nothing to wait for meanwhile
        runners[0].work([first])  # a task delivered again meanwhile is a no-op
        assert record(deliveries, first).attempts == 1
        moved["now"] += 29
        assert inbox.sweep() == 0
        moved["now"] += 1  # due: swept although younger than the grace left to a fresh record's storer
        assert inbox.sweep() == 1 and runners[0].submitted[-1] == first
        runners[0].work([first])
        assert (record(deliveries, first).status, record(deliveries, first).attempts) == ("pending", 2)
        moved["now"] += 60
        runners[0].work([first])
        row = record(deliveries, first)
        assert (row.status, row.attempts, row.note, row.lastError, row.leaseExpiresAt) == (
            "done", 3, "third time lucky", None, None)
        assert asked == [("Busy", 1), ("Busy", 2)]

        # Transient every time: the last claim leaves it failed, saying so; retryCallBack still runs it.
        second = stored_id(inbox.accept(delivery("<xml>always busy</xml>")))
        assert inbox.settled([second]) == []  # fresh and pending: someone's work
        for _ in range(3):
            runners[0].work([second])
            moved["now"] += 1000
        row = record(deliveries, second)
        assert (row.status, row.attempts, row.note) == ("failed", 3, "gave up after 3 attempts")
        assert row.lastError == "Busy: busy again"
        # A failure the policy does not call transient fails at once.
        third = stored_id(inbox.accept(delivery("<xml>bug</xml>")))
        runners[0].work([third])
        row = record(deliveries, third)
        assert (row.status, row.attempts, row.note, row.lastError) == ("failed", 1, None, "RuntimeError: a bug")


def test_a_retry_policy_that_raises_leaves_the_record_failed(make_inbox: Callable[..., CallbackInbox],
                                                             deliveries: ModelManager) -> None:
    def broken(error: Exception, attempts: int) -> float | None:
        raise KeyError("oops")

    def fail(row: Row) -> str:
        raise Busy("upstream busy")

    inbox = make_inbox(fail, retry_delay=broken)
    record_id = stored_id(inbox.accept(delivery("<xml>x</xml>")))
    assert inbox.wait_idle(10)
    assert (record(deliveries, record_id).status, record(deliveries, record_id).lastError) == (
        "failed", "Busy: upstream busy")


def test_only_one_of_many_concurrent_claims_runs_a_record(make_inbox: Callable[..., CallbackInbox],
                                                         deliveries: ModelManager) -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def count(row: Row) -> str:
        with lock:
            calls.append(row.id)
        return "ok"

    inboxes = [make_inbox(count, runner=QueueRunner) for _ in range(4)]
    record_id = stored_id(inboxes[0].accept(delivery("<xml>contended</xml>")))
    barrier = threading.Barrier(8)

    def claim(inbox: CallbackInbox) -> None:
        barrier.wait()
        inbox.process(record_id)

    threads = [threading.Thread(target=claim, args=(inboxes[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [record_id]
    assert record(deliveries, record_id).attempts == 1


def test_a_claim_that_outlived_its_lease_does_not_overwrite_the_new_owners_outcome(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stalled(row: Row) -> str:
        entered.set()
        release.wait(10)
        return "stale outcome"

    slow = make_inbox(stalled, lease_seconds=60)
    record_id = stored_id(slow.accept(delivery("<xml>stall</xml>")))
    assert entered.wait(10)
    with slow._lock:
        slow._held.clear()  # stop renewing, as a worker frozen by the OS would
    deliveries.updateByPK(record_id, {"leaseExpiresAt": clock.utc_now() - timedelta(seconds=1)})
    taker = make_inbox(lambda row: "taken over", runner=QueueRunner)
    assert taker.process(record_id)
    release.set()
    assert slow.wait_idle(10)
    row = record(deliveries, record_id)
    assert (row.status, row.note, row.attempts) == ("done", "taken over", 2)


def test_a_model_without_the_inbox_fields_is_refused(engine: Engine) -> None:
    class Bare(Model):
        __tablename__ = "bare"
        payloadHash = Stext(max_length=64)

    with pytest.raises(ValueError, match="lacks the inbox fields status, attempts"):
        CallbackInbox(Bare.bind(engine), lambda row: None, name="bare-inbox")
    assert RECORD_FIELDS[0] == "id"


def test_settings_are_checked(deliveries: ModelManager) -> None:
    with pytest.raises(ValueError, match="lease must be a positive number"):
        CallbackInbox(deliveries, lambda row: None, lease_seconds=0)
    with pytest.raises(ValueError, match="sweep interval must be >= 0"):
        CallbackInbox(deliveries, lambda row: None, sweep_seconds=-1)
    bad_attempts: tuple[Any, ...] = (0, 2.5, True)
    for bad in bad_attempts:
        with pytest.raises(ValueError, match="max_attempts is a whole number of claims, at least 1"):
            CallbackInbox(deliveries, lambda row: None, max_attempts=bad)


def test_lease_held_names_the_holder_and_expiry(make_inbox: Callable[..., CallbackInbox],
                                                deliveries: ModelManager) -> None:
    until = clock.utc_now() + timedelta(minutes=2)
    deliveries.create({**delivery("<xml>held</xml>"), "status": "processing", "attempts": 1,
                       "leaseOwner": "web-3:981:0a1b2c3d:7", "leaseExpiresAt": until})
    inbox = make_inbox(runner=QueueRunner)
    with pytest.raises(LeaseHeld) as held:
        inbox.retry(1)
    assert (held.value.owner, held.value.expires_at) == ("web-3:981:0a1b2c3d:7", until)
    assert "web-3:981:0a1b2c3d:7" in str(held.value) and until.isoformat(timespec="seconds") in str(held.value)


# -- batches -----------------------------------------------------------------------------------


def test_records_queued_while_the_worker_is_busy_are_claimed_and_run_as_one_batch(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    busy, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def handle(row: Row) -> str:
        if row.payload == "<xml>first</xml>":
            busy.set()
            assert release.wait(10)
        return "ok"

    def runner(work: Callable[[list[int]], None]) -> ThreadRunner:
        def record_batches(ids: list[int]) -> None:
            batches.append(list(ids))
            work(ids)
        return ThreadRunner(record_batches, name="test-inbox", batch_size=3)

    inbox = make_inbox(handle, runner=runner)
    first = stored_id(inbox.accept(delivery("<xml>first</xml>")))
    assert busy.wait(10)
    queued = [stored_id(inbox.accept(delivery(f"<xml>{i}</xml>"))) for i in range(5)]
    release.set()
    assert inbox.wait_idle(10)
    assert batches == [[first], queued[:3], queued[3:]]  # at most batch_size records a claim
    rows = deliveries.query(orderList=[["id", 1]])["rowDatas"]
    assert [(r.status, r.attempts, r.note) for r in rows] == [("done", 1, "ok")] * 6


def test_a_batch_runs_only_what_nothing_newer_supersedes_and_keeps_each_failure_apart(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    ran: list[str] = []

    def handle(row: Row) -> str:
        ran.append(row.payload)
        if row.payload == "<xml>bad</xml>":
            raise RuntimeError("this one fails")
        return "ran"

    def coalesce(rows: list[Row]) -> dict[int, str]:
        tickets = [row for row in rows if row.payload.startswith("<xml>ticket")]
        return {row.id: "superseded" for row in tickets[:-1]}

    inbox = make_inbox(handle, coalesce=coalesce, runner=lambda work: _Idle())
    ids = [stored_id(inbox.accept(delivery(p)))
           for p in ("<xml>ticket 1</xml>", "<xml>bad</xml>", "<xml>ticket 2</xml>", "<xml>other</xml>")]
    held = ids[3]
    deliveries.updateByFilter(f"Q(id={held})", {"status": "processing", "leaseOwner": "elsewhere:1",
                                                 "leaseExpiresAt": clock.utc_now() + timedelta(minutes=5)})
    with pytest.raises(RuntimeError, match="this one fails"):
        inbox.process_many(ids)  # the first handler error propagates once every outcome is recorded
    assert ran == ["<xml>bad</xml>", "<xml>ticket 2</xml>"]  # in id order; the live lease is left alone
    rows = {r.id: r for r in deliveries.query()["rowDatas"]}
    # A superseded record goes from pending to done without a claim: it never ran (attempts 0).
    assert [(rows[i].status, rows[i].note, rows[i].attempts) for i in ids[:3]] == [
        ("done", "superseded", 0), ("failed", None, 1), ("done", "ran", 1)]
    assert "this one fails" in rows[ids[1]].lastError
    assert (rows[held].status, rows[held].leaseOwner, rows[held].attempts) == ("processing", "elsewhere:1", 0)
    assert inbox.process_many(ids, raise_errors=False) == 0  # nothing claimable is left


def test_a_store_failing_while_settling_superseded_records_leaves_nothing_claimed(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager, monkeypatch: pytest.MonkeyPatch) -> None:
    def coalesce(rows: list[Row]) -> dict[int, str]:
        return {row.id: "superseded" for row in rows[:-1]}

    inbox = make_inbox(coalesce=coalesce, runner=lambda work: _Idle())
    ids = [stored_id(inbox.accept(delivery(f"<xml>ticket {i}</xml>"))) for i in range(3)]

    def store_down(*args: object, **kwargs: object) -> int:
        raise OSError("database is unavailable")

    monkeypatch.setattr(inbox, "_settle_superseded", store_down)
    with pytest.raises(OSError):
        inbox.process_many(ids)
    # Nothing was claimed: no record sits in processing under a lease no one renews or runs.
    assert {r.status for r in deliveries.query()["rowDatas"]} == {"pending"}
    monkeypatch.undo()
    assert inbox.process_many(ids) == 3


def test_a_coalesce_hook_that_fails_runs_every_record(make_inbox: Callable[..., CallbackInbox],
                                                      deliveries: ModelManager) -> None:
    def coalesce(rows: list[Row]) -> dict[int, str]:
        raise ValueError("cannot read a payload")

    inbox = make_inbox(coalesce=coalesce, runner=lambda work: _Idle())
    ids = [stored_id(inbox.accept(delivery(f"<xml>{i}</xml>"))) for i in range(3)]
    assert inbox.process_many(ids) == 3
    assert [r.note for r in deliveries.query(orderList=[["id", 1]])["rowDatas"]] == [
        f"handled <xml>{i}</xml>" for i in range(3)]


def test_a_sweep_purges_with_the_types_hook_at_most_every_purge_interval_and_survives_its_failure(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    calls: list[int] = []

    def purge() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return deliveries.deleteByFilter("Q(status='done')")

    moved = {"now": 1_800_000_000.0}
    with clock.use_clock(lambda: moved["now"]):
        inbox = make_inbox(purge=purge, purge_seconds=600)
        inbox.accept(delivery("<xml>old</xml>"))
        assert inbox.wait_idle(10)
        inbox.sweep()  # the failing purge is logged; the sweep goes on
        assert deliveries.query()["totalCount"] == 1
        inbox.sweep()  # a failed purge is tried again at the next sweep
        assert deliveries.query()["totalCount"] == 0 and len(calls) == 2
        inbox.accept(delivery("<xml>newer</xml>"))
        assert inbox.wait_idle(10)
        moved["now"] += 599
        inbox.sweep()  # purged less than the interval ago: not again
        assert deliveries.query()["totalCount"] == 1 and len(calls) == 2
        moved["now"] += 1
        inbox.sweep()
        assert deliveries.query()["totalCount"] == 0 and len(calls) == 3


def test_a_negative_purge_interval_is_refused(deliveries: ModelManager) -> None:
    with pytest.raises(ValueError, match="purge interval must be >= 0 seconds"):
        CallbackInbox(deliveries, lambda row: None, purge_seconds=-1)


class _Idle(QueueRunner):
    """A runner that never runs anything: the test drives process_many itself."""

    def __init__(self) -> None:
        super().__init__(lambda ids: None)


def test_a_batch_is_sorted_out_on_its_summary_fields_and_the_records_that_run_are_read_whole(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager) -> None:
    seen_by_coalesce: list[set[str]] = []
    handled: list[str] = []

    def coalesce(rows: list[Row]) -> dict[int, str]:
        seen_by_coalesce.extend(set(row) for row in rows)
        return {rows[0].id: "superseded"}

    def handle(row: Row) -> str:
        handled.append(row.payload)
        return "ran"

    inbox = make_inbox(handle, coalesce=coalesce, summary_fields=["channel"], runner=lambda work: _Idle())
    ids = [stored_id(inbox.accept(delivery(f"<xml>{i}</xml>"))) for i in range(3)]
    assert inbox.process_many(ids) == 3
    assert seen_by_coalesce == [{"id", "channel"}] * 3  # no payload read for the batch
    assert handled == ["<xml>1</xml>", "<xml>2</xml>"]
    assert [r.note for r in deliveries.query(orderList=[["id", 1]])["rowDatas"]] == ["superseded", "ran", "ran"]


def test_a_store_blocked_by_another_processs_write_lock_gives_up_soon_and_says_deliver_again(
        make_inbox: Callable[..., CallbackInbox], deliveries: ModelManager, engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3
    import time

    from jitlite.meta import inbox as inbox_module

    monkeypatch.setattr(inbox_module, "STORE_BUSY_SECONDS", 0.3)
    inbox = make_inbox(runner=lambda work: _Idle())
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)  # as another process would
    try:
        other.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock
        began = time.monotonic()
        with pytest.raises(InboxUnavailable, match="database is locked"):
            inbox.accept(delivery("<xml>blocked</xml>"))
        assert time.monotonic() - began < 5  # not the database's 30 s busy timeout
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert not inbox.accept(delivery("<xml>blocked</xml>")).duplicate  # WeCom's retry is stored
    assert deliveries.query()["totalCount"] == 1


def test_a_thread_runner_whose_work_was_interrupted_still_runs_what_comes_next() -> None:
    ran: list[list[int]] = []

    def work(batch: list[int]) -> None:
        if batch == [1]:
            raise SystemExit("a handler called sys.exit")  # not an Exception: it ends the pool thread's drain
        ran.append(batch)

    runner = ThreadRunner(work, name="test-interrupted", linger=0)
    try:
        runner.submit(1)
        assert runner.wait_idle(10)
        runner.submit(2)  # queued after the interrupted drain: a new one must take it
        assert runner.wait_idle(10)
        assert ran == [[2]]
    finally:
        runner.close()
