"""The callback inbox: what a Type does with a verified callback so that none is lost or stuck.

::

    accept  → store the record (deduplicated by payload hash) in one short transaction — only then may
              the sender get "success" → schedule its id on the runner
    process → read what is queued → record done, unclaimed, what a newer record of the batch
              supersedes → claim the rest in one statement, with a lease (owner + expiry) → run the
              Type's handler on each → record done or failed; a failure the Type calls transient goes
              back to pending, due again after its delay, until ``max_attempts`` claims have failed
    sweep   → renew the leases this process holds; re-schedule records whose lease expired (their
              worker died) and pending records nobody picked up; runs at start-up and periodically
    retry   → run a failed, pending or lease-expired record again, now (``retryCallBack``)

The database row is the source of truth; a runner is given nothing but the record id, so where work
runs is a seam (:class:`InboxRunner`): :class:`ThreadRunner` runs records in this process, taking
whatever has queued up as one batch (so under load a claim, a coalesced handler run and the outcomes
cost a few statements per batch, not several per record, and the request's insert rarely waits for
SQLite's write lock), and a task queue can take its place without changing the inbox or the Types.
Claims are conditional updates, so whichever process or thread claims a record first runs it and
every other claim is a no-op; a handler can still run twice if its worker stalls past its lease and
the record is re-claimed, so handlers must be idempotent (WeCom redelivers anyway).

Lease expiries are wall-clock times (``jitlite.runtime.clock``) compared across processes and hosts,
so the hosts' clocks must agree (NTP) to well within a lease.

The record model needs these fields: ``id``, ``payloadHash`` (unique, with any scope fields the
Type adds), ``status`` (pending, processing, done, failed), ``attempts``, ``lastError``, ``note``,
``receivedAt``, ``processedAt``, ``leaseOwner`` and ``leaseExpiresAt``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..runtime import clock
from ..runtime.errors import JitliteError
from ..runtime.logredact import redact
from ..storage import ConstraintError, Q, Row
from .group_insert import GroupInsert

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_SWEEP_SECONDS",
    "RECORD_FIELDS",
    "Accepted",
    "CallbackInbox",
    "InboxRunner",
    "InboxUnavailable",
    "LeaseHeld",
    "ThreadRunner",
]

log = logging.getLogger("jitlite.inbox")

DEFAULT_LEASE_SECONDS = 300.0  # a claim a worker neither finishes nor renews in this time is taken over
DEFAULT_SWEEP_SECONDS = 60.0  # how often a process looks for expired leases and orphaned records
DEFAULT_PURGE_SECONDS = 600.0  # a sweep runs the purge hook at most this often (old records are no hurry)
DEFAULT_MAX_ATTEMPTS = 5  # claims a record gets, transient failures included, before it is left failed
RECORD_FIELDS = ("id", "payloadHash", "status", "attempts", "lastError", "note", "receivedAt", "processedAt",
                 "leaseOwner", "leaseExpiresAt")
_ERROR_TEXT_LIMIT = 2000
_SWEEP_PAGE = 200  # record ids a sweep reads per query
_SWEEP_LIMIT = 10_000  # records one sweep schedules at most; the next sweep takes the rest
# WeCom waits 5 s for an answer. A store that cannot have SQLite's write lock (held by another
# process) within this time is answered 503, so that WeCom delivers it again, instead of holding
# the request for the database's own busy timeout (30 s).
STORE_BUSY_SECONDS = 2.0
DEFAULT_BATCH_SIZE = 400  # records one claim takes at most: bounds a batch's statements and its lease work
DEFAULT_LINGER_SECONDS = 0.2  # how long a batch gathers under load before it is claimed: delay for throughput


class InboxUnavailable(JitliteError):
    """The record store could not take a callback: answer so that the sender retries (HTTP 503)."""


class LeaseHeld(JitliteError):
    """A record is being processed under a live lease, so it cannot be retried yet."""

    def __init__(self, record_id: int, owner: str | None, expires_at: datetime | None) -> None:
        self.record_id = record_id
        self.owner = owner
        self.expires_at = expires_at
        until = expires_at.isoformat(timespec="seconds") if expires_at else "an unknown time"
        super().__init__(
            f"callback record {record_id} is being processed by {owner or 'another worker'} under a lease that "
            f"expires at {until}; retry it after that, when an unfinished claim is taken over")


@dataclass(frozen=True)
class Accepted:
    """What ``accept`` did: the new record's id, or None with ``duplicate`` for a redelivery of a stored payload."""

    record_id: int | None
    duplicate: bool


class InboxRunner(Protocol):
    """Where an inbox's work runs: it is handed record ids and must call the inbox's work for each."""

    def submit(self, record_id: int) -> None:
        """Arrange for the record to be processed (soon, once)."""
        ...

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted here has run; False if time ran out."""
        ...

    def close(self) -> None:
        """Finish the work in hand and stop taking more."""
        ...


class ThreadRunner:
    """Run records on a small thread pool in this process (the default runner), in batches.

    Submitted ids queue up and a pool thread hands up to ``batch_size`` of them to the work function
    together. The first record after a quiet spell runs at once; while more keep arriving, the
    thread waits ``linger`` seconds before each further batch (unless a whole one is there), so
    under load a batch holds what arrived in that time: processing then costs a few statements per
    batch and leaves the CPU and SQLite's write lock to the requests that store callbacks.
    """

    def __init__(self, work: Callable[[list[int]], None], *, workers: int = 1, name: str = "callback-inbox",
                 batch_size: int = DEFAULT_BATCH_SIZE, linger: float = DEFAULT_LINGER_SECONDS) -> None:
        if batch_size < 1:
            raise ValueError(f"{name}: the batch size must be at least 1, not {batch_size!r}")
        if not 0 <= linger <= 10:
            raise ValueError(f"{name}: the linger must be between 0 and 10 seconds, not {linger!r}")
        self._linger = linger
        self._work = work
        self._workers = workers
        self._batch_size = batch_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._futures: set[Future[None]] = set()
        self._queued: deque[int] = deque()
        self._draining = 0  # pool threads taking batches; never 0 while ids are queued
        self._lock = threading.Lock()

    def submit(self, record_id: int) -> None:
        """Queue the record; start a pool thread on the queue unless enough already are."""
        with self._lock:
            self._queued.append(record_id)
            if self._draining >= self._workers:
                return
            self._draining += 1
        try:
            future = self._executor.submit(self._drain)
        except BaseException:
            with self._lock:
                self._draining -= 1
                self._queued.remove(record_id)
            raise
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _drain(self) -> None:
        """Take batches off the queue until it is empty."""
        busy = False  # the first batch after a quiet spell runs at once
        while True:
            with self._lock:
                short = 0 < len(self._queued) < self._batch_size
            if busy and short and self._linger:
                time.sleep(self._linger)  # let a batch gather: one claim and one outcome write for all of it
            busy = True
            with self._lock:
                if not self._queued:
                    self._draining -= 1
                    return
                batch = [self._queued.popleft() for _ in range(min(self._batch_size, len(self._queued)))]
            try:
                self._work(batch)
            except Exception:  # the work keeps failures on the records; never let one stop the queue
                log.exception("callback batch %s..%s failed outside its handlers", batch[0], batch[-1])
            except BaseException:  # an interrupt ends this thread: the next submit must start another
                with self._lock:
                    self._draining -= 1
                raise

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued record has run; False if time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = set(self._futures)
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait_futures(pending, timeout=remaining)

    def close(self) -> None:
        """Finish the queued records and stop the pool."""
        self._executor.shutdown(wait=True)


def _first_line(exc: BaseException) -> str:
    """Return an error's type and first line, redacted (drivers append the SQL and its parameters)."""
    lines = str(exc).splitlines()
    return redact(f"{type(exc).__name__}: {lines[0] if lines else ''}")[:300]


def _worker_id() -> str:
    """Return an id for this process's claims: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CallbackInbox:
    """Store, schedule, claim under a lease, process and sweep the callback records of one model.

    ``records`` is a model element (or manager) with the fields in ``RECORD_FIELDS``; ``handle``
    turns a claimed record into a note for it (raising marks the record failed). ``coalesce``, given
    the records of one claimed batch, returns those a newer record of the batch makes pointless to
    run (a superseded suite ticket), each with its note; they are recorded done without running.
    ``summary_fields`` names the fields read of a batch for ``coalesce`` (default: every field), so
    superseded records never have their payload read or decrypted.
    ``purge`` deletes records no longer worth keeping; a sweep runs it when ``purge_seconds`` have
    passed since it last succeeded (every sweep with 0), so its scan is not repeated every minute.
    ``runner`` builds the runner from the batch work function (default: :class:`ThreadRunner` with
    one worker).
    ``retry_delay(error, attempts)`` tells how many seconds to wait before running a record again
    after its handler raised error on claim number ``attempts``, or None for a failure that will not
    get better (the default for every error): such a record goes back to pending, with the error
    kept and its next due time in ``leaseExpiresAt``, and a sweep sends it again once it is due;
    after ``max_attempts`` claims it is left failed for ``retryCallBack``.
    ``sweep_seconds`` of 0 turns the periodic sweep off (leases are still renewed). With a runner
    whose queue is elsewhere (Celery), no process sweeps on its own: one sweeper for all (beat's
    ``jitlite.sweep_callbacks``) re-sends what is stale, instead of every web and worker process.
    """

    def __init__(
        self,
        records: Any,
        handle: Callable[[Row], str | None],
        *,
        name: str = "callback-inbox",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        sweep_seconds: float = DEFAULT_SWEEP_SECONDS,
        runner: Callable[[Callable[[list[int]], None]], InboxRunner] | None = None,
        coalesce: Callable[[list[Row]], Mapping[int, str]] | None = None,
        purge: Callable[[], int] | None = None,
        purge_seconds: float = DEFAULT_PURGE_SECONDS,
        summary_fields: list[str] | None = None,
        retry_delay: Callable[[Exception, int], float | None] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError(f"{name}: the lease must be a positive number of seconds, not {lease_seconds!r}")
        if not sweep_seconds >= 0:
            raise ValueError(f"{name}: the sweep interval must be >= 0 seconds (0 turns it off), not {sweep_seconds!r}")
        if not purge_seconds >= 0:
            raise ValueError(f"{name}: the purge interval must be >= 0 seconds (0: every sweep), not {purge_seconds!r}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"{name}: max_attempts is a whole number of claims, at least 1, not {max_attempts!r}")
        table = getattr(getattr(records, "manager", records), "model", None)
        fields = getattr(table, "__fields__", None)
        if table is not None and fields is not None:
            missing = [f for f in RECORD_FIELDS if f not in fields]
            if missing:
                raise ValueError(f"{name}: the record model {table.__name__} lacks the inbox fields "
                                 f"{', '.join(missing)}; add them to the model")
        self.records = records
        # Concurrent callbacks share one statement and one commit (each answered after it).
        # A request waits for its row's commit at most twice the store's own bound, and is then answered
        # 503, well within the 5 s WeCom waits for an answer.
        self._inserts = GroupInsert(records, busy_timeout=STORE_BUSY_SECONDS, wait_seconds=2 * STORE_BUSY_SECONDS)
        self.handle = handle
        self.coalesce = coalesce
        self.purge = purge
        self.purge_seconds = purge_seconds
        self.retry_delay = retry_delay
        self.max_attempts = max_attempts
        self._purge_due = 0.0  # runtime-clock time from which the next sweep purges
        self.summary_fields = None if summary_fields is None else sorted({"id", *summary_fields})
        self.name = name
        self.lease = timedelta(seconds=lease_seconds)
        self.sweep_seconds = sweep_seconds
        self.owner = _worker_id()
        self._claim_numbers = itertools.count(1)
        self._held: dict[int, str] = {}  # record id → owner of the claim this process holds on it
        self._scheduled: set[int] = set()  # ids on this process's runner, so a sweep does not queue them twice
        self._lock = threading.Lock()
        self._runner = (runner or (lambda work: ThreadRunner(work, name=name)))(self._run_batch)
        # A runner whose work runs elsewhere (a task queue) reads outcomes from the records.
        self._local = bool(getattr(self._runner, "local", True))
        bind = getattr(self._runner, "bind", None)
        if callable(bind):
            bind(self)
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=_tick, args=(weakref.ref(self), self._stop, self._tick_seconds()),
                                        name=f"{name}-sweep", daemon=True)
        self._ticker.start()

    def __repr__(self) -> str:
        return f"CallbackInbox({self.name!r}, owner={self.owner!r}, lease={self.lease.total_seconds():g}s)"

    # -- storing -------------------------------------------------------------------------------

    @staticmethod
    def payload_hash(payload: str) -> str:
        """Return the hash that deduplicates redeliveries of one payload."""
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def accept(self, values: Mapping[str, Any], *, durable: bool = True) -> Accepted:
        """Store a callback once (by ``payloadHash`` within its unique key) and schedule it.

        Raises InboxUnavailable when the store fails: the sender must then be told to retry, never
        "success". A redelivery of a stored payload is not stored or scheduled again. ``durable``
        syncs the commit to disk (SQLite) before the sender is answered; a Type may pass False for
        a callback it would get again if a power loss took it (one the sender re-sends anyway, or a
        change a periodic reconciliation finds), saving the sync.
        """
        if not values.get("payloadHash"):
            raise ValueError(f"{self.name}: a callback record needs its payloadHash")
        try:
            # One statement in one short transaction; a redelivery meets the unique key and writes nothing.
            record_id = self._inserts.insert({**values, "status": "pending", "attempts": 0}, durable=durable)
        except ConstraintError as exc:  # refused for another reason than a duplicate: not stored
            raise InboxUnavailable(f"{self.name}: the callback record was refused ({_first_line(exc)})") from exc
        except Exception as exc:
            raise InboxUnavailable(f"{self.name}: cannot store the callback ({_first_line(exc)})") from exc
        if record_id is None:
            # The unique key met a stored record: acknowledged without reading it (a redelivery costs
            # one statement that writes nothing).
            return Accepted(None, duplicate=True)
        try:
            self.schedule(record_id)
        except Exception as exc:  # stored all the same: a sweep or the next start runs it
            log.warning("%s: record %s is stored but could not be scheduled (%s); a sweep will run it",
                        self.name, record_id, _first_line(exc))
        return Accepted(record_id, duplicate=False)

    # -- scheduling and processing -------------------------------------------------------------

    def schedule(self, record_id: int) -> None:
        """Hand a record to the runner unless this process already has it queued."""
        if not self._local:  # a queue elsewhere: the claim makes a second delivery a no-op
            self._runner.submit(record_id)
            return
        with self._lock:
            if record_id in self._scheduled:
                return
            self._scheduled.add(record_id)
        try:
            self._runner.submit(record_id)
        except BaseException:
            with self._lock:
                self._scheduled.discard(record_id)
            raise

    def _run_batch(self, record_ids: list[int]) -> None:
        """Process scheduled records (the runner's work); a handler's failure is kept on its record."""
        try:
            self.process_many(record_ids, raise_errors=False)
        except Exception as exc:  # the store failed around the handlers: the leases run out, a sweep retries
            log.warning("%s: records %s..%s could not be claimed or their outcomes recorded (%s); a sweep "
                        "will take them up again", self.name, record_ids[0], record_ids[-1], _first_line(exc))
        finally:
            with self._lock:
                self._scheduled.difference_update(record_ids)

    def process(self, record_id: int, *, raise_errors: bool = True) -> bool:
        """Claim a pending or lease-expired record and run it; False if it was not claimable.

        A handler's exception marks the record failed (or, when ``retry_delay`` calls it transient,
        pending until due) and, with ``raise_errors``, propagates.
        """
        return self.process_many([record_id], raise_errors=raise_errors) > 0

    def process_many(self, record_ids: list[int], *, raise_errors: bool = True) -> int:
        """Settle the pending or lease-expired records among these ids; return how many this call settled or ran.

        The batch is read (``summary_fields``) and the Type's ``coalesce`` names the records a newer
        one makes pointless to run: those go from pending straight to done, noted, never claimed.
        One conditional update claims the rest (records another worker holds or finished are left
        out), they run in id order, and the outcomes are written a statement per distinct outcome.
        A handler's exception marks its record failed (or, when ``retry_delay`` calls it transient,
        pending until due); with ``raise_errors`` the first one propagates after every outcome is
        recorded.
        """
        ids = sorted(set(record_ids))
        if not ids:
            return 0
        now = clock.utc_now()
        claimable = self._pending_due(now) | self._expired_claim(now)
        superseded = self._superseded_among(ids, claimable)
        to_run = [record_id for record_id in ids if record_id not in superseded]
        # Superseded records are settled before the rest is claimed: a store failing in between then
        # leaves nothing claimed that no one runs (a claim is only run, and its lease renewed, here).
        settled = self._settle_superseded(superseded, claimable, now)
        owner = f"{self.owner}:{next(self._claim_numbers)}"
        rows = self.records.updateAndReturn(
            Q(id__in=to_run) & claimable,
            {"status": "processing", "leaseOwner": owner, "leaseExpiresAt": now + self.lease, "processedAt": now},
            increments={"attempts": 1}) if to_run else []
        first_error = self._run_claimed(sorted(rows, key=lambda row: row.id), owner, may_defer=True)
        if first_error is not None and raise_errors:
            raise first_error
        return len(rows) + settled

    def _run_claimed(self, rows: list[Row], owner: str, *, may_defer: bool = False) -> Exception | None:
        """Run records this claim holds, in order; record their outcomes (a statement per distinct one).

        A handler's exception marks its record failed, or (``may_defer``, and ``retry_delay`` finds
        it transient, and claims are left) pending again until its delay has passed; the first
        exception is returned, not raised. ``rows`` carry their attempts counting this claim.
        """
        with self._lock:
            self._held.update((row.id, owner) for row in rows)
        first_error: Exception | None = None
        try:
            outcomes: dict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)
            for row in rows:
                try:
                    note = self.handle(row)
                except Exception as exc:
                    text = redact(f"{type(exc).__name__}: {exc}")[:_ERROR_TEXT_LIMIT]
                    first_error = first_error or exc
                    delay = self._delay_for(exc, row.attempts) if may_defer else None
                    if delay is None or row.attempts >= self.max_attempts:
                        note = None if delay is None else f"gave up after {row.attempts} attempts"
                        log.warning("%s: record %s (%s) failed: %s", self.name, row.id, row.get("infoType", "?"), text)
                        outcomes[("failed", note, text)].append(row.id)
                        continue
                    due = clock.utc_now() + timedelta(seconds=delay)
                    log.warning("%s: record %s (%s) failed on attempt %d of %d, runs again after %.0f s: %s",
                                self.name, row.id, row.get("infoType", "?"), row.attempts, self.max_attempts, delay,
                                text)
                    self._finish([row.id], owner, {"status": "pending", "lastError": text, "leaseExpiresAt": due,
                                                   "note": f"attempt {row.attempts} of {self.max_attempts} failed; "
                                                           f"due again at {due.isoformat(timespec='seconds')}"})
                else:
                    outcomes[("done", note, None)].append(row.id)
            for (status, note, error), done_ids in outcomes.items():
                self._finish(done_ids, owner, {"status": status, "note": note, "lastError": error})
        finally:
            with self._lock:
                for row in rows:
                    self._held.pop(row.id, None)
        return first_error

    def _delay_for(self, error: Exception, attempts: int) -> float | None:
        """Return the seconds the Type would wait before running a failed record again; None: not transient."""
        if self.retry_delay is None:
            return None
        try:
            delay = self.retry_delay(error, attempts)
        except Exception as exc:  # a broken policy must not lose the outcome: the record is left failed
            log.warning("%s: retry_delay raised %s; the record is left failed", self.name, _first_line(exc))
            return None
        if delay is None or not delay >= 0:
            return None
        return float(delay)

    def _superseded_among(self, ids: list[int], claimable: Q) -> dict[int, str]:
        """Ask the Type which of the batch's claimable records a newer one makes pointless to run.

        Only the summary fields are read. A failing ``coalesce`` runs them all.
        """
        if self.coalesce is None or len(ids) < 2:
            return {}
        summary = self.records.query(Q(id__in=ids) & claimable, fieldList=self.summary_fields, size=None)["rowDatas"]
        try:
            found = self.coalesce(list(summary))
        except Exception as exc:
            log.warning("%s: could not coalesce a batch of %d records (%s); running each", self.name, len(summary),
                        _first_line(exc))
            return {}
        wanted = set(ids)
        return {record_id: why for record_id, why in found.items() if record_id in wanted}

    def _settle_superseded(self, superseded: Mapping[int, str], claimable: Q, now: datetime) -> int:
        """Record superseded records done (if still claimable: never one another worker holds); return how many."""
        by_note: dict[str, list[int]] = defaultdict(list)
        for record_id, why in superseded.items():
            by_note[why].append(record_id)
        settled = 0
        for why, record_ids in by_note.items():
            settled += self.records.updateByFilter(
                Q(id__in=record_ids) & claimable,
                {"status": "done", "note": why, "lastError": None, "leaseOwner": None, "leaseExpiresAt": None,
                 "processedAt": now})
        return settled

    def retry(self, record_id: int) -> Row:
        """Run a failed, pending or lease-expired record again in this thread; return it as it ends.

        Raises LookupError for an unknown record, LeaseHeld while a live lease covers it, and
        ValueError for a record that is done.
        """
        row = self.records.get(Q(id=int(record_id)))
        if row is None:
            raise LookupError(f"no callback record {record_id}")
        if row.status == "processing" and self._lease_live(row):
            raise LeaseHeld(row.id, row.leaseOwner, self._lease_expiry(row))
        if row.status not in ("failed", "pending", "processing"):
            raise ValueError(f"callback record {record_id} is {row.status}; only failed or pending ones are retried, "
                             "and processing ones whose lease expired")
        if not self._claim_and_run(row, ("failed", "pending"), raise_errors=True):
            # Someone claimed it between our read and our claim: say what it is now.
            now_row = self.records.get(Q(id=row.id))
            if now_row is not None and now_row.status == "processing":
                raise LeaseHeld(now_row.id, now_row.leaseOwner, self._lease_expiry(now_row))
            raise ValueError(f"callback record {record_id} was just processed by another worker "
                             f"(now {now_row.status if now_row else 'deleted'})")
        done: Row = self.records.get(Q(id=row.id))
        return done

    def _lease_expiry(self, row: Row) -> datetime | None:
        expires: datetime | None = row.leaseExpiresAt
        if expires is None and row.processedAt is not None:  # a claim from before leases: one lease from its start
            expires = row.processedAt + self.lease
        return expires

    def _lease_live(self, row: Row) -> bool:
        expires = self._lease_expiry(row)
        return expires is not None and expires > clock.utc_now()

    @staticmethod
    def _pending_due(now: datetime) -> Q:
        # A pending record's leaseExpiresAt, when set, is when a deferred retry is due.
        return Q(status="pending") & (Q(leaseExpiresAt__isnull=True) | Q(leaseExpiresAt__lte=now))

    def _expired_claim(self, now: datetime) -> Q:
        return Q(status="processing") & (
            Q(leaseExpiresAt__lt=now) | Q(leaseExpiresAt__isnull=True, processedAt__lt=now - self.lease))

    def _claim_and_run(self, row: Row, from_status: tuple[str, ...], *, raise_errors: bool) -> bool:
        now = clock.utc_now()
        owner = f"{self.owner}:{next(self._claim_numbers)}"
        # One conditional update: the status (or an expired lease) and the attempt count we read must
        # still hold, so exactly one claimant wins and attempts count every claim.
        claimable = Q(status__in=list(from_status)) | self._expired_claim(now)
        claimed = self.records.updateByFilter(
            Q(id=row.id, attempts=row.attempts) & claimable,
            {"status": "processing", "attempts": row.attempts + 1, "leaseOwner": owner,
             "leaseExpiresAt": now + self.lease, "processedAt": now})
        if not claimed:
            return False
        error = self._run_claimed([row], owner)
        if error is not None and raise_errors:
            raise error
        return True

    def _finish(self, record_ids: list[int], owner: str, outcome: dict[str, Any]) -> None:
        """Record one outcome on the records this claim still owns."""
        changed = self.records.updateByFilter(
            Q(id__in=record_ids, status="processing", leaseOwner=owner),
            {"leaseExpiresAt": None, "processedAt": clock.utc_now(), **outcome})
        if changed < len(record_ids):
            log.warning("%s: %d of records %s..%s outlived their lease and were taken over; their outcome is "
                        "left to the worker that holds them now", self.name, len(record_ids) - changed,
                        record_ids[0], record_ids[-1])

    # -- leases and sweeping -------------------------------------------------------------------

    def _sweeps(self) -> bool:
        """Tell whether this process's ticker sweeps: with a task queue, one sweeper (Celery beat) does, for all."""
        return bool(self.sweep_seconds) and self._local

    def _tick_seconds(self) -> float:
        # Renew well before a lease runs out; sweep no more often than asked.
        renew = self.lease.total_seconds() / 3
        return min(renew, self.sweep_seconds) if self._sweeps() else renew

    def renew_leases(self) -> int:
        """Push back the expiry of every claim this process holds; return how many were renewed."""
        by_owner: dict[str, list[int]] = defaultdict(list)
        with self._lock:
            for record_id, owner in self._held.items():
                by_owner[owner].append(record_id)
        renewed = 0
        for owner, record_ids in by_owner.items():  # one statement per claim (a batch shares its owner)
            renewed += self.records.updateByFilter(
                Q(id__in=record_ids, status="processing", leaseOwner=owner),
                {"leaseExpiresAt": clock.utc_now() + self.lease})
        return renewed

    def sweep(self, *, pending_grace: timedelta | None = None) -> int:
        """Schedule records whose lease expired, and pending ones older than the grace; return how many.

        The grace (one lease by default) leaves fresh records to the process that stored them; at
        start-up every pending record is taken (grace 0). One sweep schedules at most _SWEEP_LIMIT
        records, read in pages by id; the next sweep takes the rest.
        """
        self._purge()
        now = clock.utc_now()
        grace = self.lease if pending_grace is None else pending_grace
        # A deferred retry (a pending record with a due time) is nobody's once due, however new it is.
        stale = self._expired_claim(now) | (self._pending_due(now) & (
            Q(receivedAt__lte=now - grace) | Q(leaseExpiresAt__isnull=False)))
        taken, last_id = 0, None
        while taken < _SWEEP_LIMIT:
            where = stale if last_id is None else stale & Q(id__gt=last_id)
            rows = self.records.query(where, fieldList=["id"], orderList=[["id", 1]], size=_SWEEP_PAGE)["rowDatas"]
            for row in rows:
                self.schedule(row.id)
            taken += len(rows)
            if len(rows) < _SWEEP_PAGE:
                break
            last_id = rows[-1].id
        return taken

    def _purge(self) -> None:
        if self.purge is None:
            return
        now = clock.now()
        with self._lock:
            if now < self._purge_due:
                return
            self._purge_due = now + self.purge_seconds  # a concurrent sweep does not purge too
        try:
            purged = self.purge()
        except Exception as exc:  # keeping old records a while longer harms nothing; the next sweep tries again
            with self._lock:
                self._purge_due = 0.0
            log.warning("%s: could not purge old records (%s)", self.name, _first_line(exc))
            return
        if purged:
            log.info("%s: purged %d old record(s)", self.name, purged)

    def resume(self) -> int:
        """Schedule what a stopped or killed process left behind (call at start-up); return how many.

        With a task queue, records younger than a lease are left alone: other processes sent them
        and the queue holds them (every web and worker process starts this way).
        """
        return self.sweep(pending_grace=timedelta(0) if self._local else None)

    def settled(self, record_ids: list[int]) -> list[int]:
        """Return which of the records are done, failed, or waiting for a retry that is not due yet.

        A deferred record is no one's work until it is due (then a sweep sends it again), so a
        caller waiting for the work it sent stops waiting for it, as with the in-process runner.
        """
        settled: list[int] = []
        waiting_retry = Q(status="pending", leaseExpiresAt__gt=clock.utc_now())
        for start in range(0, len(record_ids), _SWEEP_PAGE):
            page = record_ids[start:start + _SWEEP_PAGE]
            rows = self.records.query(Q(id__in=page) & (Q(status__in=["done", "failed"]) | waiting_retry),
                                      fieldList=["id"], size=len(page))["rowDatas"]
            settled.extend(row.id for row in rows)
        return settled

    def _tick(self, sweep_due: bool) -> None:
        """One round of the background ticker: renew leases, and sweep when due."""
        try:
            self.renew_leases()
            if sweep_due:
                taken = self.sweep()
                if taken:
                    log.info("%s: sweep scheduled %d record(s) left pending or with an expired lease", self.name, taken)
        except Exception as exc:  # the store is down: try again next tick
            log.warning("%s: lease renewal or sweep failed: %s", self.name, _first_line(exc))

    # -- lifecycle -----------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every record this process scheduled has been processed; False if time ran out."""
        return self._runner.wait_idle(timeout)

    def close(self) -> None:
        """Stop sweeping, finish the records in hand and stop the runner."""
        self._stop.set()
        self._runner.close()
        if self._ticker is not threading.current_thread():
            self._ticker.join(timeout=5)


def _tick(ref: weakref.ReferenceType[CallbackInbox], stop: threading.Event, interval: float) -> None:
    """Renew leases and sweep every interval until stopped or the inbox is gone."""
    next_sweep = time.monotonic()
    while not stop.wait(interval):
        inbox = ref()
        if inbox is None:
            return
        sweep_due = inbox._sweeps() and time.monotonic() >= next_sweep
        if sweep_due:
            next_sweep = time.monotonic() + inbox.sweep_seconds
        inbox._tick(sweep_due)
        del inbox  # hold no reference while waiting, so an abandoned inbox can be collected
