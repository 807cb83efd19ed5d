"""One org-sync engine for every WeCom organisation: pull contacts, diff them, write in batches.

``OrgSync(client, store)`` works on one organisation: ``client`` is a corp client (self-built,
代开发 or third-party: anything with ``client.department`` and ``client.user``) and ``store`` an
:class:`OrgStore` naming the org models and the organisation's key. Full reconciliation and single
``change_contact`` events go through it::

    report = OrgSync(client, store, concurrency=8).sync()     # pull, diff, write; returns counts
    OrgSync(client, store).apply_event(fields)                # one decrypted change_contact event

How a full sync runs:

* it takes the organisation's **lease** (a row in the sync-state model that expires unless renewed),
  so two processes never sync one organisation at once, and a killed process blocks nobody for long;
* **pull**: ``department/simplelist`` (the ids in scope) with names from one ``department/list``
  (``department/get`` per department if that is refused), ``user/list_id`` page by page (the
  member ids in scope) and ``user/list`` per department for details, on ``concurrency`` threads
  sharing the client's one HTTP connection pool; members only listed by ``user/list_id`` are read
  with ``user/get``; 60011-like answers skip that entity and are counted;
* **write** in batches of ``batch_size`` while the pull goes on: each member is compared with a
  digest of its stored row (one streamed read per sync), and only new or changed rows are upserted
  (with a new ``updatedAt``), so a re-sync of an unchanged org writes nothing; the whole org is
  never held in memory, only its member ids and their 16-byte digests. A large org's upserts
  (``writer_process_after`` members and more) run in a child process that opens the same store,
  so they use another core than the pull;
* **finish** only after a complete pull: members no longer in scope go ``offline``, departments no
  longer in scope are deleted. A run that dies before that leaves every row as readable as before
  (each batch is its own transaction and holds current data); the next run converges.

Rate limits are the transport's business: -1 and 45033 are retried with backoff, a 45009 opens the
per-corp circuit and the sync stops with that error (its partial writes are kept).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import multiprocessing
import queue
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from jitlite.storage import ConstraintError, Q, Row, utc_now

from .api.user import MAX_LIST_ID_LIMIT
from .errors import ConfigurationError, NotFoundOrOutOfScope, WeComAPIError, WeComError, redact

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_WRITER_PROCESS_AFTER",
    "MEMBER_FIELDS",
    "OrgStore",
    "OrgSync",
    "OrgSyncBusy",
    "OrgSyncError",
    "Progress",
    "StoreRecipe",
    "SyncReport",
    "dept_row",
    "member_row",
    "member_status",
]

log = logging.getLogger("jitlite.orgsync")

DEFAULT_CONCURRENCY = 8
DEFAULT_BATCH_SIZE = 1000
DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_WRITER_PROCESS_AFTER = 5000  # members a sync writes itself before a writer process takes over
_WRITER_START_SECONDS = 60.0  # a writer process that is not up by then is given up (batches stay here)
_WRITER_FINISH_SECONDS = 600.0  # the longest wait for the writer process to take a batch, or to finish
_PAGE = 5000  # rows per keyset page when a whole organisation is read back
_IN_CHUNK = 500  # ids per IN (...) list
_COLLECT_EVERY = 100  # department pages between two young-generation collections during a pull
_MAX_DEPTH = 64  # WeCom allows 15 levels; deeper chains are cut (and cycles stop) here

#: The member fields a sync compares (userId is kept once set; updatedAt marks a change).
MEMBER_FIELDS = ("name", "nick", "phone", "email", "photo", "gender", "position", "deptIds", "mainDeptId",
                 "isLeader", "openUserId", "wecomStatus", "status", "corpId")
DEPT_FIELDS = ("name", "parentId", "order", "path", "corpId")
_MEMBER_READ = ("memberId", "userId", *MEMBER_FIELDS)
_DEPT_READ = ("deptId", "updatedAt", *DEPT_FIELDS)


class OrgSyncError(WeComError):
    """An organisation sync could not run or finish."""


class OrgSyncBusy(OrgSyncError):
    """Another run holds the organisation's sync lease."""


class Progress(Protocol):
    """Told how a sync advances: ``progress(stage, done, total)``; total None while unknown."""

    def __call__(self, stage: str, done: int, total: int | None) -> None: ...


def _no_progress(stage: str, done: int, total: int | None) -> None:
    """Ignore progress."""


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a pull runs (nested and concurrent pulls share one pause).

    A pull parses hundreds of thousands of short-lived dicts and lists, none of them in a cycle; each
    collector pass set off by them would walk every live object of the process (a tenth of a large
    org's pull). Reference counting frees the pages as before; the pull collects the young
    generations itself every hundred pages, so the few short cycles of the HTTP layer do not pile up.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


@dataclass
class SyncReport:
    """What one sync (or event, or bulk registration) did."""

    created: int = 0
    updated: int = 0
    offline: int = 0
    deleted: int = 0
    skipped: int = 0
    apiCalls: int = 0
    seconds: float = 0.0
    rowsWritten: int = 0
    members: int = 0
    depts: int = 0
    skippedIds: list[str] = field(default_factory=list)
    # Fetch threads and the writer skip entities at the same time.
    _skip_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def skip(self, kind: str, entity: str) -> None:
        """Count an entity left as it is stored (out of the visible range, or its record unreadable)."""
        with self._skip_lock:
            self.skipped += 1
            self.skippedIds.append(f"{kind}:{entity}")

    def toDict(self) -> dict[str, Any]:
        """Return the counts as a plain dict (what ``syncCorp`` returns)."""
        return {"created": self.created, "updated": self.updated, "offline": self.offline,
                "deleted": self.deleted, "skipped": self.skipped, "apiCalls": self.apiCalls,
                "seconds": round(self.seconds, 3), "rowsWritten": self.rowsWritten, "members": self.members,
                "depts": self.depts, "skippedIds": list(self.skippedIds[:100])}


# -- rows ------------------------------------------------------------------------------------------


def member_status(value: Any) -> str:
    """Return ``active`` or ``offline`` for a status: those words, 1/2 (aliases) or a WeCom status.

    WeCom's member status is 1 active, 2 disabled, 4 not yet activated, 5 quit: 1 and 4 are active,
    2 and 5 offline.
    """
    if value in ("active", "offline"):
        return str(value)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"a member status is 'active', 'offline', 1 or 2; got {value!r}") from None
    if number in (1, 4):
        return "active"
    if number in (2, 5):
        return "offline"
    raise ValueError(f"a member status is 'active', 'offline', 1 or 2; got {value!r}")


def _text(value: Any) -> str | None:
    if type(value) is str:  # WeCom's JSON: checked first, as a sync calls this several times per member
        return value or None
    return None if value is None else str(value) or None


def _ids(values: Any) -> list[str]:
    if not values:
        return []
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return [v if type(v) is str else str(v) for v in values]


def _leads(flags: Any) -> bool:
    """Tell whether per-department leader flags (a list, or WeCom's comma-separated text) hold a nonzero one."""
    if not flags:
        return False
    try:
        # map, not a generator: a sync calls this once per member.
        return any(map(int, flags.split(",") if isinstance(flags, str) else flags))
    except (TypeError, ValueError):
        raise ValueError(f"leader flags (is_leader_in_dept) are numbers such as 0 or 1; got {flags!r}") from None


def member_row(member: Mapping[str, Any], corpFullName: str, corpId: str) -> dict[str, Any]:
    """Return the CorpMember row (without userId and updatedAt) for a WeCom member record."""
    # A sync maps every member of the org through here, so department lists (WeCom's JSON: a list of
    # numbers) take an inline path; anything else goes through the helpers.
    get = member.get
    member_id = get("userid") or get("UserId")
    if not member_id:
        raise ValueError("a WeCom member record needs a userid")
    if type(member_id) is not str:
        member_id = str(member_id)
    name, alias, mobile, avatar, position, open_id, email, biz_mail = map(get, _TEXT_KEYS)
    raw_depts = get("department")
    depts = list(map(str, raw_depts)) if type(raw_depts) is list else _ids(raw_depts)
    flags = get("is_leader_in_dept")
    is_leader = _leads(flags)
    raw_status = get("status")
    if type(raw_status) is int and raw_status in _STATUS_OF:
        status_number: int | None = raw_status
        status = _STATUS_OF[raw_status]
    elif raw_status in ("active", "offline"):  # a hand-made record may say it in our words
        status_number, status = None, str(raw_status)
    elif raw_status in (None, ""):
        status_number, status = None, "active"
    else:
        status_number = int(raw_status)
        status = member_status(status_number)
    main = get("main_department")
    gender = get("gender")
    return {
        "memberId": member_id,
        "name": _text(name) or member_id,
        "nick": _text(alias),
        "phone": _text(mobile),
        "email": _text(email) or _text(biz_mail),
        "photo": _text(avatar),
        "gender": int(gender) if gender else 0,
        "position": _text(position),
        "deptIds": depts,
        "mainDeptId": _text(main) if main not in (None, 0, "0") else (depts[0] if depts else None),
        "isLeader": is_leader,
        "openUserId": _text(open_id),
        "wecomStatus": status_number,
        "status": status,
        "corpFullName": corpFullName,
        "corpId": corpId,
    }


_TEXT_KEYS = ("name", "alias", "mobile", "avatar", "position", "open_userid", "email", "biz_mail")
_STATUS_OF = {1: "active", 4: "active", 2: "offline", 5: "offline"}


def dept_row(dept: Mapping[str, Any], path: str | None, corpFullName: str, corpId: str) -> dict[str, Any]:
    """Return the CorpDept row (without updatedAt) for a WeCom department record."""
    parent = dept.get("parentid")
    return {
        "deptId": str(dept["id"]),
        "name": _text(dept.get("name")),
        "parentId": None if parent in (None, 0, "0", "") else str(parent),
        "order": int(dept.get("order") or 0),
        "path": path,
        "corpFullName": corpFullName,
        "corpId": corpId,
    }


def dept_paths(parents: Mapping[str, str | None]) -> dict[str, str]:
    """Return ``/top/…/id/`` for each department id, following parents that are known."""
    paths: dict[str, str] = {}
    for dept_id in parents:
        if dept_id in paths:
            continue
        chain = [dept_id]
        current = parents.get(dept_id)
        while current is not None and current in parents and current not in chain and len(chain) < _MAX_DEPTH:
            if current in paths:
                break
            chain.append(current)
            current = parents.get(current)
        prefix = paths[current] if current is not None and current in paths else "/"
        for node in reversed(chain):
            prefix = f"{prefix}{node}/"
            paths[node] = prefix
    return paths


def member_digest(values: Iterable[Any]) -> bytes:
    """Return a 128-bit digest of a member's synced field values (in ``MEMBER_FIELDS`` order).

    Stored and fetched rows give the same Python types for each field (text, int, bool, list of
    text), so equal values have equal ``repr``.
    """
    return hashlib.blake2b(repr(tuple(values)).encode("utf-8"), digest_size=16).digest()


def _differs(new: Mapping[str, Any], stored: Mapping[str, Any], names: Sequence[str]) -> bool:
    return any(new.get(name) != stored.get(name) for name in names)


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- the store -------------------------------------------------------------------------------------


@dataclass
class OrgStore:
    """Where one organisation's rows live: the org models (JitAi model API) and its key.

    ``identities`` (``auths.models.WeComIdentityModel``), when given, links each member to the
    system user of its WeCom identity (members who logged in have one). With ``registerUsers`` and
    ``users`` (``auths.models.UserModel``) every member without one gets a new system user and
    identity.
    """

    corpFullName: str
    corpId: str
    depts: Any
    members: Any
    roles: Any
    roleMembers: Any
    syncState: Any
    users: Any = None
    identities: Any = None
    registerUsers: bool = False

    def __post_init__(self) -> None:
        if not self.corpFullName or not self.corpId:
            raise ValueError("an organisation needs both its corpFullName and its corpId")

    @property
    def key(self) -> Q:
        """Return the filter of this organisation's rows."""
        return Q(corpFullName=self.corpFullName)

    def all_rows(self, model: Any, where: Q | None = None, fieldList: Sequence[str] | None = None) -> Iterator[Row]:
        """Yield every row of this organisation in a model (keyset pages on the primary key)."""
        last = 0
        base = self.key if where is None else self.key & where
        fields = None if fieldList is None else list(dict.fromkeys(["id", *fieldList]))
        while True:
            page = model.query(base & Q(id__gt=last), fieldList=fields, orderList=[["id", 1]],
                               size=_PAGE)["rowDatas"]
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1]["id"]

    def stored_members(self, member_ids: Sequence[str]) -> dict[str, Row]:
        """Return the stored rows of these members, by memberId."""
        found: dict[str, Row] = {}
        for chunk in _chunks(member_ids):
            rows = self.members.query(self.key & Q(memberId__in=list(chunk)), fieldList=list(_MEMBER_READ),
                                      size=len(chunk))["rowDatas"]
            found.update((row.memberId, row) for row in rows)
        return found

    def member_snapshot(self) -> dict[str, tuple[bytes, str | None, str]]:
        """Return ``memberId -> (digest of the synced fields, userId, status)`` of every stored member.

        Read once per sync in one streamed SELECT, so batches compare digests instead of reading
        rows back; a digest is 16 bytes, so even a large org's snapshot stays small.
        """
        manager = self.members.manager
        table = manager.table
        columns = [table.c[name] for name in ("memberId", "userId", *MEMBER_FIELDS)]
        snapshot: dict[str, tuple[bytes, str | None, str]] = {}
        status_at = 2 + MEMBER_FIELDS.index("status")
        statement = sa.select(*columns).where(table.c.corpFullName == self.corpFullName)
        with manager.engine.connect() as conn:
            for page in conn.execute(statement).partitions(_PAGE):
                for found in page:
                    snapshot[found[0]] = (member_digest(found[2:]), found[1], found[status_at])
        return snapshot

    def identity_map(self) -> dict[str, str]:
        """Return ``WeCom userid -> system userId`` of the corp's members that have an identity."""
        if self.identities is None:
            return {}
        manager = self.identities.manager
        table = manager.table
        statement = sa.select(table.c.wecomUserId, table.c.userId).where(table.c.corpId == self.corpId)
        with manager.engine.connect() as conn:
            return {wecom_user_id: user_id for wecom_user_id, user_id in conn.execute(statement)}

    def synced_once(self) -> bool:
        """Tell whether a sync of this organisation ever started."""
        return self.syncState.get(Q(corpFullName=self.corpFullName)) is not None


# -- system users ----------------------------------------------------------------------------------


def _identities_of(store: OrgStore, member_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if store.identities is None:
        return found
    for chunk in _chunks(member_ids):
        for identity in store.identities.query(Q(corpId=store.corpId, wecomUserId__in=list(chunk)),
                                               fieldList=["wecomUserId", "userId"], size=len(chunk))["rowDatas"]:
            found[identity.wecomUserId] = identity.userId
    return found


def _register_users(store: OrgStore, rows: list[dict[str, Any]], when: datetime) -> int:
    """Give rows still without a userId a new system user and WeCom identity (registerUsers)."""
    if not store.registerUsers or store.users is None or store.identities is None:
        return 0
    need = [row for row in rows if not row.get("userId")]
    if not need:
        return 0
    # Looked up again right before writing: a first login binds members too. (A login binding one of
    # these members between this read and the write below would see its binding replaced.)
    found = _identities_of(store, [row["memberId"] for row in need])
    new_users: list[dict[str, Any]] = []
    new_identities: list[dict[str, Any]] = []
    for row in need:
        user_id = found.get(row["memberId"])
        if user_id is None:
            user_id = "u_" + secrets.token_hex(12)  # the same form AuthService gives first logins
            new_users.append({"userId": user_id, "name": row["name"], "mobile": row["phone"], "email": row["email"],
                              "avatar": row["photo"], "createdAt": when, "updatedAt": when})
            new_identities.append({"corpId": store.corpId, "wecomUserId": row["memberId"], "userId": user_id,
                                   "name": row["name"], "openUserId": row["openUserId"], "createdAt": when,
                                   "updatedAt": when})
        row["userId"] = user_id
    written = 0
    if new_users:
        # Users first: a binding never points at a user that does not exist yet.
        written += store.users.createOrUpdateMany(new_users, uniqueFields=["userId"])
        written += store.identities.createOrUpdateMany(new_identities, uniqueFields=["corpId", "wecomUserId"])
    return written


# -- writing ---------------------------------------------------------------------------------------


class _MemberWriter:
    """Buffer member records, and write each full batch as the rows that are new or changed.

    Rows are compared with a snapshot of the stored members taken when the writer starts; what is
    left of the snapshot at the end are the stored members the pull did not find.
    """

    def __init__(self, store: OrgStore, report: SyncReport, when: datetime, batch_size: int,
                 on_batch: Callable[[], None], *, process: StoreRecipe | None = None,
                 process_after: int = DEFAULT_WRITER_PROCESS_AFTER) -> None:
        self.store = store
        self.report = report
        self.when = when
        self.batch_size = batch_size
        self.on_batch = on_batch
        self._recipe = process
        self._process_after = process_after
        self._process: _WriterProcess | None = None
        self._expected = 0
        self._all_new = False
        self.seen: set[str] = set()
        self.open_ids: set[str] = set()
        self._buffer: list[dict[str, Any]] = []
        # Read at the first flush, while the first member lists are being fetched.
        self._snapshot: dict[str, tuple[bytes, str | None, str]] | None = None
        self._identities: dict[str, str] = {}

    @property
    def snapshot(self) -> dict[str, tuple[bytes, str | None, str]]:
        """Return the stored members not matched yet (read on first use)."""
        if self._snapshot is None:
            self._snapshot = self.store.member_snapshot()
            self._identities = self.store.identity_map()
        return self._snapshot

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Take WeCom member records (duplicates of members already taken are ignored)."""
        store = self.store
        for record in records:
            try:
                row = member_row(record, store.corpFullName, store.corpId)
            except (TypeError, ValueError) as exc:
                self._skip_malformed(record, exc)
                continue
            if row["memberId"] in self.seen:
                continue
            self.seen.add(row["memberId"])
            if row["openUserId"]:
                self.open_ids.add(row["openUserId"])
            self._buffer.append(row)
            if len(self._buffer) >= self.batch_size:
                self.flush()

    def _skip_malformed(self, record: Mapping[str, Any], exc: Exception) -> None:
        """Leave a member whose record cannot be read as it is stored, and say so in the report.

        One bad value from WeCom (a leader flag or status that is not a number) must not fail the
        sync of everyone else. The member counts as present, so a full sync does not take it offline.
        """
        member_id = record.get("userid") or record.get("UserId")
        entity = str(member_id) if member_id else "(no userid)"
        if member_id:
            if entity in self.seen:  # listed again by another of its departments: skipped already
                return
            self.seen.add(entity)
        self.report.skip("member", entity)
        log.warning("member %s of %s skipped: its record cannot be read (%s); its stored row is kept",
                    entity, self.store.corpFullName, str(exc)[:200])

    def flush(self) -> None:
        """Write what is buffered."""
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        report, snapshot = self.report, self.snapshot
        identities = self._identities
        register = self.store.registerUsers
        report.members += len(batch)
        created: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for row in batch:
            member_id = row["memberId"]
            stored = snapshot.pop(member_id, None)
            if stored is None:
                report.created += 1
                row["userId"] = identities.get(member_id)
                created.append(row)
                continue
            digest, user_id, _status = stored
            row["userId"] = user_id or identities.get(member_id)
            if member_digest([row[name] for name in MEMBER_FIELDS]) != digest:
                report.updated += 1
                changed.append(row)
            elif row["userId"] != user_id or (register and not user_id):
                changed.append(row)  # only to link (or make) its system user
        self._write(created, changed)
        self.on_batch()

    def expect(self, members: int, *, all_new: bool = False) -> None:
        """Hear that the org has at least this many members (user/list_id tells early).

        ``all_new`` (nothing stored yet: every member will be written) starts the writer process
        at once for a large org, instead of at the first batch that has rows to write.
        """
        self._expected = max(self._expected, members)
        self._all_new = self._all_new or all_new
        if self._all_new:
            self._start_process()

    def _start_process(self) -> None:
        if self._recipe is None or max(self._expected, self.report.members) < self._process_after:
            return
        # A large org with rows to write: write in another process, so the writes use another core
        # than the pull. It needs a moment to open the app; meanwhile batches are written here.
        recipe, self._recipe = self._recipe, None
        try:
            self._process = _WriterProcess(recipe)
        except Exception as exc:  # e.g. a daemonic worker process may not have children
            log.warning("no org-sync writer process (%s: %s); writing in this process", type(exc).__name__, exc)

    def _write(self, created: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        """Upsert a batch here, or hand it to the writer process once that one is up."""
        if not created and not changed:
            return
        self._start_process()
        process = self._process
        if process is not None:
            if process.usable() and process.send(created, changed, self.when):
                return
            if process.given_up:  # it takes no more batches: this process writes the rest
                self._process = None
                self.report.rowsWritten += process.finish()  # what it wrote before it was given up
        self.report.rowsWritten += _upsert_members(self.store, created, changed, self.when)

    def close(self) -> None:
        """Wait until every batch handed to the writer process is written (call after the last flush)."""
        if self._process is not None:
            process, self._process = self._process, None
            self.report.rowsWritten += process.finish()  # stops the process on an error as well

    def abandon(self) -> None:
        """Stop the writer process without waiting for what it has not written (the run failed)."""
        if self._process is not None:
            process, self._process = self._process, None
            process.abandon()

    def leftovers(self) -> dict[str, tuple[bytes, str | None, str]]:
        """Return the stored members no record matched (call after the last flush)."""
        return self.snapshot


# -- the writer process ----------------------------------------------------------------------------

StoreRecipe = tuple[Callable[..., OrgStore], tuple[Any, ...]]
"""How another process opens the same store: ``factory(*args)`` returns it (both picklable)."""


def _writer_main(recipe: StoreRecipe, batches: Any, results: Any) -> None:
    """Run in the writer process: open the store, then upsert each batch the sync sends."""
    try:
        factory, args = recipe
        store = factory(*args)
    except BaseException as exc:  # reported to the sync, which keeps writing itself
        results.put(("error", redact(f"{type(exc).__name__}: {exc}")[:2000]))
        return
    results.put(("ready", 0))
    parent = multiprocessing.parent_process()
    while True:
        try:
            item = batches.get(timeout=1.0)
        except queue.Empty:
            # A sync whose process was killed sends nothing more, and never the closing None.
            if parent is not None and not parent.is_alive():
                return
            continue
        if item is None:
            results.put(("closed", 0))
            return
        created, updated, when = item
        try:
            results.put(("written", _upsert_members(store, created, updated, when)))
        except BaseException as exc:
            results.put(("error", redact(f"{type(exc).__name__}: {exc}")[:2000]))
            return


class _WriterProcess:
    """Member upserts in a child process, so a large org's writes run beside its pull.

    Python threads share one interpreter lock: fetching and parsing pages and converting rows for
    the database would take turns on one core. The child opens the same app (and so the same
    database) from a picklable recipe and writes each batch in its own transaction, as the sync
    would. Batches wait in a queue of four at most.

    A process that fails to start, is not up within ``_WRITER_START_SECONDS``, or ends without an
    error after writing every batch it was sent is *given up*: ``usable()`` and ``send()`` say no
    and the sync writes the rest itself. A process that reports an error, or ends with batches it
    did not write, makes the sync fail (the rows it wrote are current; the next run converges).
    """

    def __init__(self, recipe: StoreRecipe) -> None:
        context = multiprocessing.get_context("spawn")  # fork is unsafe in a process with threads
        self._batches = context.Queue(maxsize=4)
        self._results = context.Queue()
        self._process = context.Process(target=_writer_main, args=(recipe, self._batches, self._results),
                                        name="jitlite-orgsync-writer", daemon=True)
        self._process.start()
        self._started = time.monotonic()
        self._ready = False
        self._given_up = False
        self._error: str | None = None
        self._sent = 0
        self._answered = 0
        self._none_sent = False  # the closing None is queued
        self._child_closed = False  # the process read the closing None: its batch queue is empty
        self._closed = False
        self.written = 0

    @property
    def given_up(self) -> bool:
        """Tell whether the sync stopped using the process (it writes its batches itself)."""
        return self._given_up

    @property
    def batches_written(self) -> int:
        """Return how many batches the process wrote."""
        return self._answered

    def _take(self, kind: str, value: Any) -> None:
        if kind == "ready":
            self._ready = True
        elif kind == "written":
            self._answered += 1
            self.written += int(value)
        elif kind == "error":
            self._error = str(value)
        elif kind == "closed":
            self._child_closed = True

    def _poll(self) -> None:
        while True:
            try:
                kind, value = self._results.get_nowait()
            except queue.Empty:
                return
            self._take(kind, value)

    def usable(self) -> bool:
        """Tell whether batches go to the process now (False while it starts, or once given up).

        Raises OrgSyncError when the process reported a failed batch or ended with batches unwritten.
        """
        if self._given_up or self._closed:
            return False
        alive = self._process.is_alive()
        self._poll()  # after is_alive: a process that has ended has said all it will ever say
        if not self._ready:
            if self._error is not None:
                self._give_up(f"could not start ({self._error})")
            elif not alive:
                self._give_up(f"ended before it was ready (exit code {self._process.exitcode})")
            elif time.monotonic() - self._started > _WRITER_START_SECONDS:
                self._give_up(f"did not start in {_WRITER_START_SECONDS:.0f} s")
            return False
        self._check(alive)
        if not alive:  # every batch it was sent is written: nothing is lost
            self._give_up(f"ended before the sync was done (exit code {self._process.exitcode})")
            return False
        return True

    def _check(self, alive: bool | None = None) -> None:
        """Raise if the process reported an error, or ended with batches it did not answer."""
        if alive is None:
            alive = self._process.is_alive()
        if not alive:
            self._poll()  # read what it said before it ended (its last answers, or why it failed)
        if self._error is not None:
            raise OrgSyncError(f"writing members failed in the writer process: {self._error}")
        if not alive and self._answered < self._sent:
            raise OrgSyncError(f"the writer process ended (exit code {self._process.exitcode}) with "
                               f"{self._sent - self._answered} batches unwritten; sync again")

    def _put(self, item: Any) -> bool:
        """Queue an item, waiting while four are queued; False if the process ended (having written all)."""
        deadline = time.monotonic() + _WRITER_FINISH_SECONDS
        while True:
            alive = self._process.is_alive()
            self._check(alive)
            if not alive:
                return False
            try:
                self._batches.put(item, timeout=0.5)
            except queue.Full:
                self._poll()
                if time.monotonic() > deadline:
                    raise OrgSyncError(f"the writer process took no batch in {_WRITER_FINISH_SECONDS:.0f} s") from None
                continue
            return True

    def send(self, created: list[dict[str, Any]], updated: list[dict[str, Any]], when: datetime) -> bool:
        """Queue a batch for the process (waiting while four are queued); False if it was given up.

        Raises OrgSyncError when the process failed (see :meth:`usable`).
        """
        if self._given_up or self._closed:
            return False
        if self._put((created, updated, when)):
            self._sent += 1
            return True
        self._give_up(f"ended before the sync was done (exit code {self._process.exitcode})")
        return False

    def finish(self) -> int:
        """Wait until every sent batch is written, then stop the process; return the rows it wrote.

        On an error (a failed batch, batches left unwritten, no end in ``_WRITER_FINISH_SECONDS``) the
        process is stopped and OrgSyncError raised.
        """
        if self._given_up:
            return self.written
        if self._closed:
            raise OrgSyncError("the writer process was stopped before the sync finished")
        if self._sent == 0:
            # It wrote nothing: stop it now rather than wait for it to finish opening the app.
            self.abandon(wait=0)
            return 0
        deadline = time.monotonic() + _WRITER_FINISH_SECONDS
        try:
            self._none_sent = self._put(None)
            while self._answered < self._sent:
                self._check()
                if time.monotonic() > deadline:
                    raise OrgSyncError(f"the writer process did not finish in {_WRITER_FINISH_SECONDS:.0f} s")
                try:
                    kind, value = self._results.get(timeout=0.5)
                except queue.Empty:
                    continue
                self._take(kind, value)
        except BaseException:
            self.abandon(wait=0)
            raise
        self.abandon(wait=10)  # it read the closing None: it ends by itself
        return self.written

    def _give_up(self, why: str) -> None:
        log.warning("the org-sync writer process %s; writing in this process", why)
        self._given_up = True
        self.abandon(wait=0)

    def abandon(self, wait: float = 5.0) -> None:
        """Stop the process, giving it ``wait`` seconds to end by itself, and release its queues.

        Batches still queued are not written (a run that failed, or a process given up); a batch
        being written when the process is terminated rolls back.
        """
        if self._closed:
            return
        self._closed = True
        if wait > 0:
            if not self._none_sent:
                with contextlib.suppress(Exception):
                    self._batches.put_nowait(None)
            self._process.join(wait)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._release_queues()

    def _release_queues(self) -> None:
        """Close both queues; batches the process never read are read back and dropped.

        This process's feeder thread may be blocked writing a batch into the pipe nobody reads any
        more: reading the pipe lets it finish, so it ends (and nothing waits for it at exit).
        """
        with contextlib.suppress(Exception):
            self._poll()  # the process has ended: did it read the closing None?
        if not self._child_closed:
            deadline = time.monotonic() + 2.0
            with contextlib.suppress(Exception):
                while time.monotonic() < deadline:
                    self._batches.get(timeout=0.05)
        self._batches.cancel_join_thread()  # whatever is still unsent is dropped, never waited for
        self._batches.close()
        self._results.close()


def _upsert_members(store: OrgStore, created: list[dict[str, Any]], updated: list[dict[str, Any]],
                    when: datetime) -> int:
    if not created and not updated:
        return 0
    written = _register_users(store, created + updated, when)
    batch: list[dict[str, Any]] = []
    for row in updated:
        row.setdefault("userId", None)
        row["updatedAt"] = when  # last, so rows share one key order (one statement plan)
        batch.append(row)
    for row in created:
        # A new row needs no NULL spelled out, and converting fewer values is much of a first sync's cost.
        # (Should an event have created it since the snapshot, a field it cleared is cleared next sync.)
        fresh = {name: value for name, value in row.items() if value is not None}
        fresh["updatedAt"] = when
        batch.append(fresh)
    return written + int(store.members.createOrUpdateMany(batch, uniqueFields=["corpFullName", "memberId"]))


def write_members(store: OrgStore, rows: list[dict[str, Any]], when: datetime, report: SyncReport) -> int:
    """Upsert the member rows that are new or differ from the stored ones; return rows written.

    For a few rows (events): it reads those members back; a sync's batches use a snapshot instead.
    """
    ids = [row["memberId"] for row in rows]
    stored = store.stored_members(ids)
    identities = _identities_of(store, [i for i in ids if stored.get(i) is None or not stored[i].userId])
    changed: list[dict[str, Any]] = []
    for row in rows:
        old = stored.get(row["memberId"])
        row["userId"] = (old.userId if old is not None else None) or identities.get(row["memberId"])
        if old is None:
            report.created += 1
            changed.append(row)
        elif _differs(row, old, MEMBER_FIELDS):
            report.updated += 1
            changed.append(row)
        elif row["userId"] != old.userId or (store.registerUsers and not old.userId):
            changed.append(row)
    # Every field is written: the row may exist already (a member another run created meanwhile).
    return _upsert_members(store, [], changed, when)


def write_depts(store: OrgStore, records: Sequence[Mapping[str, Any]], when: datetime,
                report: SyncReport) -> int:
    """Upsert the departments that are new or changed (paths from the records' parents)."""
    parents = {str(r["id"]): (None if r.get("parentid") in (None, 0, "0", "") else str(r["parentid"]))
               for r in records}
    paths = dept_paths(parents)
    stored = {row.deptId: row for row in store.all_rows(store.depts, fieldList=list(_DEPT_READ))}
    changed: list[dict[str, Any]] = []
    for record in records:
        row = dept_row(record, paths[str(record["id"])], store.corpFullName, store.corpId)
        old = stored.get(row["deptId"])
        if old is not None and row["name"] is None:
            row["name"] = old.name  # a name we could not read is not a rename
        if old is None:
            report.created += 1
        elif _differs(row, old, DEPT_FIELDS):
            report.updated += 1
        else:
            continue
        row["updatedAt"] = when
        changed.append(row)
    report.depts = len(records)
    if not changed:
        return 0
    return int(store.depts.createOrUpdateMany(changed, uniqueFields=["corpFullName", "deptId"]))


# -- pulling ---------------------------------------------------------------------------------------


class _Sink(Protocol):
    def departments(self, records: list[dict[str, Any]]) -> None: ...

    def members(self, records: list[dict[str, Any]]) -> None: ...


class _Puller:
    """Fetch one corp's contacts with bounded concurrency; hand each page to a sink as it arrives."""

    def __init__(self, client: Any, report: SyncReport, concurrency: int, progress: Progress,
                 heartbeat: Callable[[], None]) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.report = report
        self.concurrency = concurrency
        self.progress = progress
        self.heartbeat = heartbeat
        self._calls_lock = threading.Lock()
        # Every userid and open_userid handed to the sink, to tell which listed ids no list gave.
        self.known: set[str] = set()
        self.listed = 0  # member ids user/list_id gave so far

    def _call(self, fetch: Callable[[], Any]) -> Any:
        with self._calls_lock:
            self.report.apiCalls += 1
        return fetch()

    def _skip(self, kind: str, entity: str, exc: WeComAPIError) -> None:
        self.report.skip(kind, entity)
        log.info("skipped %s %s: %s", kind, entity, exc.errcode)

    def run(self, sink: _Sink) -> tuple[set[str], set[str] | None]:
        """Pull everything into ``sink``; return (department ids in scope, member ids in scope or None)."""
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="jitlite-orgsync")
        # A sink that keeps the ids it took saves tracking them twice.
        self._track = getattr(sink, "known", None) is None
        try:
            with _collector_paused():
                # user/list_id's pages and department/list run beside the departments' member lists.
                listed = pool.submit(self._list_ids)
                self.progress("departments", 0, None)
                ids = self._call(self.client.department.simplelist)
                names = pool.submit(self._department_names)
                dept_ids = [int(entry["id"]) for entry in ids]
                self._members(pool, dept_ids, sink, lambda: sink.departments(self._departments(pool, ids, names)))
                in_scope = listed.result()
                if in_scope is not None:
                    self._stragglers(pool, in_scope, sink)
                return {str(d) for d in dept_ids}, in_scope
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _department_names(self) -> dict[Any, dict[str, Any]]:
        try:
            return {d["id"]: d for d in self._call(self.client.department.list)}
        except (ConfigurationError, NotFoundOrOutOfScope) as exc:
            # department/list refused (48002 …): read each department on its own instead.
            log.info("department/list refused (%s); reading departments one by one", exc.errcode)
            return {}

    def _departments(self, pool: ThreadPoolExecutor, ids: list[dict[str, Any]],
                     names: Future[dict[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
        named = names.result()
        records: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        for entry in ids:
            detail = named.get(entry["id"])
            if detail is not None and detail.get("name"):
                records.append({**entry, "name": detail["name"]})
            else:
                missing.append(entry)
        for entry, detail in zip(missing, pool.map(self._department_detail, missing), strict=True):
            records.append({**entry, "name": detail.get("name") if detail else None})
        return records

    def _department_detail(self, entry: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return dict(self._call(lambda: self.client.department.get(entry["id"])))
        except NotFoundOrOutOfScope as exc:
            self._skip("dept", str(entry["id"]), exc)
            return None

    def _list_ids(self) -> set[str] | None:
        """Return every member id in scope from user/list_id, or None if the endpoint is refused."""
        found: set[str] = set()
        cursor: str | None = None
        cursors: set[str] = set()
        try:
            while True:
                page = self._call(functools.partial(self.client.user.list_id, cursor=cursor, limit=MAX_LIST_ID_LIMIT))
                for row in page["dept_user"]:
                    ident = row.get("userid") or row.get("open_userid")
                    if ident:
                        found.add(str(ident))
                self.listed = len(found)  # read by the main thread: how large the org is, early
                cursor = page["next_cursor"]
                if not cursor:
                    return found
                if cursor in cursors:
                    raise OrgSyncError(f"user/list_id returned cursor {cursor!r} twice; stopping")
                cursors.add(cursor)
        except ConfigurationError as exc:
            # Older apps may not call user/list_id (48002): the departments' lists are all there is.
            log.info("user/list_id refused (%s); members are taken from the departments only", exc.errcode)
            return None

    def _department_members(self, dept_id: int) -> list[dict[str, Any]]:
        try:
            return list(self._call(lambda: self.client.user.list(dept_id)))
        except NotFoundOrOutOfScope as exc:
            self._skip("dept", str(dept_id), exc)
            return []

    def _members(self, pool: ThreadPoolExecutor, dept_ids: list[int], sink: _Sink,
                 departments: Callable[[], None]) -> None:
        """Fetch each department's members, at most 8 × concurrency requests ahead of the sink.

        ``departments`` runs once, after the first member list is in (waiting for department/list if
        it is still out): the department records reach the sink while the member lists keep coming.
        """
        waiting = deque(dept_ids)
        # Finished fetches queue up here, so taking the next one costs the same however many run.
        finished: queue.SimpleQueue[Future[list[dict[str, Any]]]] = queue.SimpleQueue()
        running = 0
        done_count = 0
        # Deep enough that the fetches go on while the sink writes a batch; each page is small.
        window = self.concurrency * 8
        collected_at = 0
        total = len(dept_ids)
        pending_departments: Callable[[], None] | None = departments
        expect: Callable[[int], None] = getattr(sink, "expect", lambda members: None)
        self.progress("members", 0, total)
        while waiting or running:
            while waiting and running < window:
                pool.submit(self._department_members, waiting.popleft()).add_done_callback(finished.put)
                running += 1
            future = finished.get()
            running -= 1
            if pending_departments is not None:
                write_departments = pending_departments
                pending_departments = None
                write_departments()
            records = future.result()  # raises the fetch's error, if any
            if self._track:
                self._note(records)
            if self.listed:
                expect(self.listed)
            sink.members(records)
            done_count += 1
            if done_count % 16 == 0 or not running:
                self.progress("members", done_count, total)
                self.heartbeat()
            if done_count >= collected_at + _COLLECT_EVERY:
                # The collector is paused (see _collector_paused): free the few young cycles now and then.
                collected_at = done_count
                gc.collect(1)
        if pending_departments is not None:  # an org without departments in scope
            pending_departments()

    def _note(self, records: list[dict[str, Any]]) -> None:
        known = self.known
        for record in records:
            for key in ("userid", "open_userid"):
                ident = record.get(key)
                if ident:
                    known.add(str(ident))

    def _stragglers(self, pool: ThreadPoolExecutor, in_scope: set[str], sink: _Sink) -> None:
        """Read the members user/list_id names that no department list gave (user/get each)."""
        known = self.known if self._track else sink.known()  # type: ignore[attr-defined]
        missing = sorted(in_scope - known)
        if not missing:
            return
        self.progress("stragglers", 0, len(missing))
        for start in range(0, len(missing), 100):
            chunk = missing[start:start + 100]
            records = [r for r in pool.map(self._member_detail, chunk) if r is not None]
            if self._track:
                self._note(records)
            sink.members(records)
            self.progress("stragglers", start + len(chunk), len(missing))
            self.heartbeat()

    def _member_detail(self, member_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(lambda: self.client.user.get(member_id)))
        except NotFoundOrOutOfScope as exc:
            self._skip("member", member_id, exc)
            return None


class _WriteSink:
    """Write pulled data as it arrives."""

    def __init__(self, store: OrgStore, report: SyncReport, when: datetime, batch_size: int,
                 heartbeat: Callable[[], None], *, process: StoreRecipe | None = None,
                 process_after: int = DEFAULT_WRITER_PROCESS_AFTER) -> None:
        self.store = store
        self.report = report
        self.when = when
        self.writer = _MemberWriter(store, report, when, batch_size, heartbeat, process=process,
                                    process_after=process_after)

    @property
    def seen(self) -> set[str]:
        """Return the member ids written so far."""
        return self.writer.seen

    def known(self) -> set[str]:
        """Return every userid and open_userid taken so far."""
        return self.writer.seen | self.writer.open_ids

    def expect(self, members: int, *, all_new: bool = False) -> None:
        """Hear how many members the org has at least (user/list_id's pages tell early)."""
        self.writer.expect(members, all_new=all_new)

    def departments(self, records: list[dict[str, Any]]) -> None:
        """Write the departments (ones whose name could not be read keep their stored name)."""
        self.report.rowsWritten += write_depts(self.store, records, self.when, self.report)

    def members(self, records: list[dict[str, Any]]) -> None:
        """Buffer members; full batches are written."""
        self.writer.add(records)


class _CollectSink:
    """Keep everything pulled in memory (``getThirdCorpData``)."""

    def __init__(self) -> None:
        self.dept_list: list[dict[str, Any]] = []
        self.user_list: list[dict[str, Any]] = []
        self.seen: set[str] = set()

    def departments(self, records: list[dict[str, Any]]) -> None:
        """Keep the departments."""
        self.dept_list = records

    def known(self) -> set[str]:
        """Return every userid and open_userid taken so far."""
        return self.seen | {str(r["open_userid"]) for r in self.user_list if r.get("open_userid")}

    def members(self, records: list[dict[str, Any]]) -> None:
        """Keep each member once."""
        for record in records:
            ident = str(record.get("userid") or "")
            if ident and ident not in self.seen:
                self.seen.add(ident)
                self.user_list.append(record)


class _DiscardSink:
    """Throw everything away (the API floor a sync is measured against)."""

    def departments(self, records: list[dict[str, Any]]) -> None:
        """Discard."""

    def members(self, records: list[dict[str, Any]]) -> None:
        """Discard."""


# -- the engine ------------------------------------------------------------------------------------


class OrgSync:
    """Sync one organisation from one WeCom corp client into the org models."""

    def __init__(self, client: Any, store: OrgStore, *, concurrency: int = DEFAULT_CONCURRENCY,
                 batch_size: int = DEFAULT_BATCH_SIZE, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 progress: Progress | None = None, writer_process: StoreRecipe | None = None,
                 writer_process_after: int = DEFAULT_WRITER_PROCESS_AFTER) -> None:
        """Configure a sync; ``writer_process`` (how another process opens ``store``) lets a sync that
        passes ``writer_process_after`` members write the rest from a child process."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if lease_seconds < 10:
            raise ValueError("lease_seconds must be at least 10")
        self.client = client
        self.store = store
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.progress: Progress = progress or _no_progress
        self.writer_process = writer_process
        self.writer_process_after = writer_process_after
        self._lease: str | None = None
        self._renewed_at = 0.0
        self._previous_members = 0  # members the last run found (read when the lease is taken)
        self._first_run = False  # no run of this organisation completed yet

    def __repr__(self) -> str:
        return f"OrgSync({self.store.corpFullName!r}, corp {self.store.corpId!r})"

    # -- full reconciliation ---------------------------------------------------------------------

    def sync(self) -> SyncReport:
        """Pull the whole corp, write what changed, then offline/delete what left; return the counts."""
        started = time.monotonic()
        when = self._claim()
        report = SyncReport()
        sink = _WriteSink(self.store, report, when, self.batch_size, self._heartbeat,
                          process=self.writer_process, process_after=self.writer_process_after)
        # The last run's count tells a re-sync the org's size; a first sync will write every member.
        sink.expect(self._previous_members, all_new=self._first_run)
        try:
            dept_ids, in_scope = _Puller(self.client, report, self.concurrency, self.progress,
                                         self._heartbeat).run(sink)
            sink.writer.flush()
            sink.writer.close()  # every batch committed before anything is offlined
            self.progress("finishing", 0, None)
            # Members listed in scope but skipped (60011) are not gone.
            present = sink.seen if in_scope is None else sink.seen | in_scope
            self._finish(report, when, sink.writer.leftovers(), present, dept_ids)
        except BaseException as exc:
            sink.writer.abandon()
            report.seconds = time.monotonic() - started
            self._release("failed", report, exc)
            raise
        report.seconds = time.monotonic() - started
        self._release("done", report, None)
        self.progress("done", 1, 1)
        return report

    def fetch_only(self) -> SyncReport:
        """Fetch exactly what a sync fetches, with the same concurrency, and discard it (no lease)."""
        started = time.monotonic()
        report = SyncReport()
        _Puller(self.client, report, self.concurrency, self.progress, lambda: None).run(_DiscardSink())
        report.seconds = time.monotonic() - started
        return report

    def pull(self) -> dict[str, Any]:
        """Return the whole corp as WeCom gives it: ``{"deptList": [...], "userList": [...]}``."""
        report = SyncReport()
        sink = _CollectSink()
        _Puller(self.client, report, self.concurrency, self.progress, lambda: None).run(sink)
        return {"deptList": sink.dept_list, "userList": sink.user_list, "skipped": report.skipped}

    def apply(self, deptList: Sequence[Mapping[str, Any]] | None,
              userList: Sequence[Mapping[str, Any]]) -> SyncReport:
        """Write already pulled data as a full state: absent members go offline, absent departments go.

        ``deptList`` None leaves the departments alone.
        """
        started = time.monotonic()
        when = self._claim()
        report = SyncReport()
        try:
            writer = _MemberWriter(self.store, report, when, self.batch_size, self._heartbeat)
            dept_ids: set[str] | None = None
            if deptList is not None:
                report.rowsWritten += write_depts(self.store, list(deptList), when, report)
                dept_ids = {str(d["id"]) for d in deptList}
            writer.add(userList)
            writer.flush()
            self._finish(report, when, writer.leftovers(), writer.seen, dept_ids)
        except BaseException as exc:
            report.seconds = time.monotonic() - started
            self._release("failed", report, exc)
            raise
        report.seconds = time.monotonic() - started
        self._release("done", report, None)
        return report

    def _finish(self, report: SyncReport, when: datetime, leftovers: Mapping[str, tuple[bytes, str | None, str]],
                present: set[str], dept_ids: set[str] | None) -> None:
        """Offline members and delete departments that a complete pull did not find."""
        store = self.store
        # Rows written after this run started (change events meanwhile) are newer than the pull.
        older = Q(updatedAt__lt=when)
        gone = sorted(m for m, (_d, _u, status) in leftovers.items() if status == "active" and m not in present)
        for chunk in _chunks(gone):
            count = store.members.updateByFilter(store.key & Q(memberId__in=list(chunk), status="active") & older,
                                                 {"status": "offline", "updatedAt": when})
            report.offline += count
            report.rowsWritten += count
            self._heartbeat()
        if dept_ids is None:
            return
        # The root (no parent) stays: getRootDept made it, or it is only out of the app's scope.
        removed = [row.deptId for row in store.all_rows(store.depts, Q(parentId__isnull=False) & older,
                                                        ["deptId"]) if row.deptId not in dept_ids]
        for chunk in _chunks(removed):
            count = store.depts.deleteByFilter(store.key & Q(deptId__in=list(chunk)) & older)
            report.deleted += count
            report.rowsWritten += count

    # -- single events ---------------------------------------------------------------------------

    def apply_event(self, event: Mapping[str, str]) -> str:
        """Apply one decrypted change_contact event (either format) at once; return a note.

        Events that carry only ids (WeCom's default since 2022) fetch the member or department;
        events with the full record are applied as they are. Tags are not synced.
        """
        change = event.get("ChangeType") or ""
        report = SyncReport()
        when = utc_now()
        if change in ("create_user", "update_user"):
            note = self._user_event(event, change, when, report)
        elif change == "delete_user":
            note = self._offline([_required(event, "UserID")], when, report)
        elif change in ("create_party", "update_party"):
            note = self._party_event(event, change, when, report)
        elif change == "delete_party":
            dept_id = _required(event, "Id")
            count = self.store.depts.deleteByFilter(self.store.key & Q(deptId=dept_id))
            note = f"department {dept_id} deleted" if count else f"department {dept_id} was not stored"
        elif change == "update_tag":
            note = "tag change ignored: tags are not synced"
        else:
            note = f"change_contact {change or '(no ChangeType)'} ignored"
        return note

    def _offline(self, member_ids: list[str], when: datetime, report: SyncReport) -> str:
        count = self.store.members.updateByFilter(
            self.store.key & Q(memberId__in=member_ids, status="active"), {"status": "offline", "updatedAt": when})
        report.offline += count
        return f"member {', '.join(member_ids)} offline" if count else f"member {', '.join(member_ids)} already offline"

    def _user_event(self, event: Mapping[str, str], change: str, when: datetime, report: SyncReport) -> str:
        store = self.store
        member_id = _required(event, "UserID")
        new_id = event.get("NewUserID")
        if new_id and new_id != member_id:
            self._rename(member_id, new_id)
            member_id = new_id
        stored = store.stored_members([member_id]).get(member_id)
        details = set(event) & _EVENT_DETAIL_TAGS
        full = "Name" in event if change == "create_user" else bool(details) and stored is not None
        if full:
            row = _row_from_event(event, member_id, stored, store)
        else:
            try:
                report.apiCalls += 1
                record = self.client.user.get(member_id)
            except NotFoundOrOutOfScope as exc:
                # Gone, or moved out of the app's visible range: it is no longer a member here.
                return self._offline([member_id], when, report) + f" (user/get answered {exc.errcode})"
            row = member_row(record, store.corpFullName, store.corpId)
        written = write_members(store, [row], when, report)
        verb = "created" if report.created else "updated" if report.updated else "unchanged"
        return f"member {member_id} {verb}{'' if full else ' (fetched)'}; {written} row(s) written"

    def _rename(self, old: str, new: str) -> None:
        """Follow a changed userid: the member row, its roles and its identity move to the new id."""
        store = self.store
        store.members.updateByFilter(store.key & Q(memberId=old), {"memberId": new})
        store.roleMembers.updateByFilter(store.key & Q(memberId=old), {"memberId": new})
        if store.identities is not None:
            try:
                store.identities.updateByFilter(Q(corpId=store.corpId, wecomUserId=old), {"wecomUserId": new})
            except ConstraintError:
                log.warning("identity %s of %s not renamed to %s: one exists already", old, store.corpId, new)

    def _party_event(self, event: Mapping[str, str], change: str, when: datetime, report: SyncReport) -> str:
        store = self.store
        dept_id = _required(event, "Id")
        stored = {row.deptId: row for row in store.all_rows(store.depts, fieldList=list(_DEPT_READ))}
        old = stored.get(dept_id)
        record: dict[str, Any]
        if "Name" in event and (change == "create_party" or old is not None):
            record = {"id": dept_id, "name": event["Name"],
                      "parentid": event.get("ParentId", old.parentId if old is not None else None),
                      "order": event.get("Order", old.order if old is not None else 0)}
        elif old is not None and change == "update_party" and "ParentId" in event:
            record = {"id": dept_id, "name": old.name, "parentid": event["ParentId"],
                      "order": event.get("Order", old.order)}
        else:
            try:
                report.apiCalls += 1
                record = dict(self.client.department.get(int(dept_id)))
            except NotFoundOrOutOfScope as exc:
                count = store.depts.deleteByFilter(store.key & Q(deptId=dept_id))
                return f"department {dept_id} is out of scope ({exc.errcode}); {count} row(s) deleted"
        # Every department's path, so a move re-roots its whole subtree.
        records = [{"id": row.deptId, "name": row.name, "parentid": row.parentId, "order": row.order}
                   for row in stored.values() if row.deptId != dept_id]
        records.append(record)
        written = write_depts(store, records, when, report)
        return f"department {dept_id} {change.split('_')[0]}d; {written} row(s) written"

    # -- the lease -------------------------------------------------------------------------------

    def _claim(self) -> datetime:
        """Take the organisation's sync lease; return this run's timestamp (later than the last run's)."""
        state, key = self.store.syncState, self.store.corpFullName
        token = secrets.token_hex(8)
        now = utc_now()
        previous = state.get(Q(corpFullName=key))
        last_report = previous.report if previous is not None and isinstance(previous.report, dict) else {}
        self._previous_members = int(last_report.get("members") or 0)
        self._first_run = previous is None or previous.lastSuccessAt is None
        when = now
        if previous is not None and previous.finishedAt is not None and previous.finishedAt >= now:
            when = previous.finishedAt + timedelta(microseconds=1)  # a frozen or coarse clock
        values = {"status": "running", "leaseOwner": token, "leaseUntil": now + timedelta(seconds=self.lease_seconds),
                  "startedAt": when, "corpId": self.store.corpId, "lastError": None}
        free = Q(status__ne="running") | Q(leaseUntil__isnull=True) | Q(leaseUntil__lt=now)
        if state.updateByFilter(Q(corpFullName=key) & free, values):
            self._took(token)
            return when
        if previous is None:
            try:
                state.create({"corpFullName": key, **values})
                self._took(token)
                return when
            except ConstraintError:
                pass  # another run created it first
        holder = state.get(Q(corpFullName=key))
        until = holder.leaseUntil.isoformat() if holder is not None and holder.leaseUntil else "soon"
        raise OrgSyncBusy(f"a sync of {key} is already running (its lease runs until {until}); "
                          "wait for it, or for the lease to expire if that run died")

    def _took(self, token: str) -> None:
        self._lease = token
        self._renewed_at = time.monotonic()

    def _heartbeat(self) -> None:
        """Renew the lease now and then; raise if another run took it over."""
        if self._lease is None or time.monotonic() - self._renewed_at < self.lease_seconds / 3:
            return
        until = utc_now() + timedelta(seconds=self.lease_seconds)
        if not self.store.syncState.updateByFilter(Q(corpFullName=self.store.corpFullName, leaseOwner=self._lease),
                                                   {"leaseUntil": until}):
            raise OrgSyncError(f"the sync lease of {self.store.corpFullName} was taken over by another run "
                               "(this run stalled past its lease); stopping")
        self._renewed_at = time.monotonic()

    def _release(self, status: str, report: SyncReport, error: BaseException | None) -> None:
        if self._lease is None:
            return
        now = utc_now()
        values: dict[str, Any] = {"status": status, "leaseOwner": None, "leaseUntil": None, "finishedAt": now,
                                  "report": report.toDict()}
        if error is None:
            values["lastSuccessAt"] = now
        else:
            values["lastError"] = f"{type(error).__name__}: {error}"[:2000]
        try:
            self.store.syncState.updateByFilter(Q(corpFullName=self.store.corpFullName, leaseOwner=self._lease),
                                                values)
        except Exception:  # never hide the sync's own error behind a bookkeeping one
            log.exception("could not record the end of the sync of %s", self.store.corpFullName)
        self._lease = None


# -- events ----------------------------------------------------------------------------------------

_EVENT_DETAIL_TAGS = frozenset({"Name", "Mobile", "Position", "Gender", "Email", "BizMail", "Status", "Avatar",
                                "Alias", "Telephone", "Address", "MainDepartment", "IsLeaderInDept"})


def _required(event: Mapping[str, str], tag: str) -> str:
    value = event.get(tag)
    if not value:
        raise ValueError(f"change_contact {event.get('ChangeType')}: the event has no {tag}")
    return str(value)


def _row_from_event(event: Mapping[str, str], member_id: str, stored: Row | None, store: OrgStore) -> dict[str, Any]:
    """Return the member row an event with the full (or changed) fields describes."""
    if stored is not None:
        row = {name: stored[name] for name in MEMBER_FIELDS}
        row.update(memberId=member_id, corpFullName=store.corpFullName, corpId=store.corpId)
    else:
        row = member_row({"userid": member_id}, store.corpFullName, store.corpId)
    simple = {"Name": "name", "Alias": "nick", "Mobile": "phone", "Avatar": "photo", "Position": "position",
              "OpenUserID": "openUserId"}
    for tag, name in simple.items():
        if tag in event:
            row[name] = _text(event[tag]) or (member_id if name == "name" else None)
    if "Email" in event or "BizMail" in event:
        row["email"] = _text(event.get("Email")) or _text(event.get("BizMail"))
    if "Gender" in event:
        row["gender"] = int(event["Gender"] or 0)
    if event.get("Status"):
        row["wecomStatus"] = int(event["Status"])
        row["status"] = member_status(row["wecomStatus"])
    if "Department" in event:
        row["deptIds"] = _ids(event["Department"])
    if "MainDepartment" in event:
        row["mainDeptId"] = _text(event["MainDepartment"])
    elif "Department" in event and row.get("mainDeptId") not in row["deptIds"]:
        row["mainDeptId"] = row["deptIds"][0] if row["deptIds"] else None
    if "IsLeaderInDept" in event:
        row["isLeader"] = _leads(event["IsLeaderInDept"])
    return row
