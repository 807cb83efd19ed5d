"""``corps.Meta``: the base of every organisation Type, the Corp contract, and the WeCom org base.

* :class:`Corp` is the contract every organisation keeps: ``syncCorp()``, ``onContactChange(event)``
  and the read methods (``getDepts``, ``getDept``, ``getRootDept``, ``getMembers``, ``getMember``)
  plus ``setUserRole`` and ``offlineMember``, all over the official models ``corps.models.CorpDept``,
  ``CorpMember``, ``CorpRole`` and ``CorpRoleMember``. Every row carries the organisation's key
  (``corpFullName``), so two organisations never mix rows.
* :class:`WeComCorp` implements syncing for WeCom organisations with the one engine,
  :class:`jitlite.wecom.orgsync.OrgSync`; a Type only says how to get the corp client.
* Organisations exist as folders (``corps/MyCorp/``) or **at run time**: a SaaS whose customers
  authorise its suite reaches each corp with ``app.getElement("corps.QywxProxyType").forCorp(corpId,
  authFullName=…)``, without a folder per customer. :func:`organisations_for` finds the organisations
  a contact event is for (the callback services use it); :func:`reconcile` syncs every organisation
  of an app (the periodic full reconciliation).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel

from ..runtime import importer
from ..runtime.element import Element
from ..runtime.errors import ElementBuildError, JitliteError
from ..runtime.layers import ElementSpec
from ..runtime.schema import Declaration
from ..storage import Q, Row, utc_now
from ..wecom.errors import WeComError
from ..wecom.orgsync import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_WRITER_PROCESS_AFTER,
    OrgStore,
    OrgSync,
    OrgSyncBusy,
    OrgSyncError,
    Progress,
    StoreRecipe,
    SyncReport,
    member_status,
)

if TYPE_CHECKING:
    from ..runtime.app import App

__all__ = [
    "Corp",
    "MemberNotFound",
    "ReconcileResult",
    "SyncReport",
    "WeComCorp",
    "open_app",
    "open_org_store",
    "organisations",
    "organisations_for",
    "reconcile",
    "store_of",
    "sync_in_background",
    "wait_background_syncs",
]

log = logging.getLogger("jitlite.corps")

MODELS = "corps.models"
META = "corps.Meta"
C = TypeVar("C", bound="Corp")


class MemberNotFound(JitliteError, LookupError):
    """An organisation has no member with that id."""


# -- the open app ----------------------------------------------------------------------------------

# App objects seen by organisation code, by the id of their index (the import hook's active one).
_apps: weakref.WeakValueDictionary[int, App] = weakref.WeakValueDictionary()


def _remember(app: App) -> None:
    _apps[id(app._index)] = app


def open_app(app: App | None = None) -> App:
    """Return ``app``, else the open app: the one whose elements ``from corps.X import Y`` imports.

    Static and class methods of organisation Types (``QywxProxyCorp.getAgentId``, ``forCorp``) find
    their app this way, as element code in JitAi does; pass ``app=`` to be explicit.
    """
    if app is not None:
        _remember(app)
        return app
    index = importer.active_index()
    if index is None:
        raise LookupError("no app is open: open one first with jitlite.App(path), or pass app=")
    found = _apps.get(id(index))
    if found is not None and found._index is index:
        return found
    from ..runtime.app import App

    # An app built before any organisation code ran: find it among live objects (once per app).
    for candidate in gc.get_objects():
        if isinstance(candidate, App) and candidate._index is index:
            _remember(candidate)
            return candidate
    raise LookupError("the open app is gone; open one with jitlite.App(path), or pass app=")


# -- the org models --------------------------------------------------------------------------------


def store_of(app: App, corpFullName: str, corpId: str, registerUsers: bool) -> OrgStore:
    """Return an organisation's store: the official org models of ``app`` and the organisation's key."""
    models = {name: app.getElement(f"{MODELS}.{model}") for name, model in (
        ("depts", "CorpDept"), ("members", "CorpMember"), ("roles", "CorpRole"),
        ("roleMembers", "CorpRoleMember"), ("syncState", "CorpSyncState"))}
    return OrgStore(corpFullName, corpId, users=app.getElement("auths.models.UserModel"),
                    identities=app.getElement("auths.models.WeComIdentityModel"), registerUsers=registerUsers,
                    **models)


def open_org_store(root: str, environ: dict[str, str], corpFullName: str, corpId: str, registerUsers: bool,
                   database: str) -> OrgStore:
    """Open an organisation's store in another process (the org sync's writer process).

    The app at ``root`` is opened with the variables the syncing process resolved, and must reach
    the same database (``database``, its URL with the password hidden) or the writer refuses.
    """
    from ..runtime.app import App

    store = store_of(App(root, environ=environ), corpFullName, corpId, registerUsers)
    found = store.members.manager.engine.url.render_as_string(hide_password=True)
    if found != database:
        raise OrgSyncError(f"the writer process reaches database {found}, not the sync's {database}")
    return store


# -- the contract ----------------------------------------------------------------------------------


class Corp(Element):
    """An organisation (corp) whose departments and members live in the app's database.

    Subclasses implement :meth:`syncCorp` and :meth:`onContactChange`; the read and role methods work
    on the official ``corps.models.*`` tables for every Type.
    """

    #: The login Type whose authorised corps this organisation Type serves without folders.
    loginTypeName: ClassVar[str] = ""
    _runtime_name: str | None = None

    def onLoad(self) -> None:
        """Remember the app (static methods find it) and prepare the shared state."""
        _remember(self.app)
        self._store: OrgStore | None = None
        self._store_lock = threading.Lock()

    # -- identity --------------------------------------------------------------------------------

    @property
    def corpId(self) -> str:
        """Return the corp id from the business config."""
        return str(getattr(self.config, "corpId", ""))

    @property
    def authFullName(self) -> str:
        """Return the fullName of the login element that gives access to this corp."""
        return str(getattr(self.config, "authFullName", ""))

    @property
    def fullName(self) -> str:
        """Return the element's fullName (for a run-time organisation, its run-time name)."""
        return self._runtime_name or self.spec.full_name

    @property
    def corpFullName(self) -> str:
        """Return this organisation's own fullName: the key of all its rows."""
        return self.fullName

    @property
    def isRuntime(self) -> bool:
        """Tell whether this organisation was made at run time (``forCorp``) rather than from a folder."""
        return self._runtime_name is not None

    # -- the contract ----------------------------------------------------------------------------

    def syncCorp(self) -> dict[str, Any]:
        """Bring departments, members and roles up to date with the source; return the counts."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement syncCorp")

    def onContactChange(self, event: Mapping[str, str]) -> str:
        """Apply one contact-change event (decrypted callback fields) at once; return a note."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement onContactChange")

    # -- models ----------------------------------------------------------------------------------

    @property
    def orgStore(self) -> OrgStore:
        """Return where this organisation's rows live (the org models and its key)."""
        store = self._store
        if store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = self._make_store()
                store = self._store
        return store

    def _make_store(self) -> OrgStore:
        return store_of(self.app, self.corpFullName, self.corpId, self._registers_users())

    def _registers_users(self) -> bool:
        """Tell whether syncs make every member a system user (setting ``orgSyncRegistersUsers``).

        Off by default: a member gets a system user at its first login (or from ``bulkRegister``),
        and every sync links members to the users that exist.
        """
        return bool(self.app.settings.get("orgSyncRegistersUsers", False))

    # -- reading ---------------------------------------------------------------------------------

    def getDepts(self) -> list[Row]:
        """Return every department, parents before children, siblings in their order."""
        rows = list(self.orgStore.all_rows(self.orgStore.depts))
        return sorted(rows, key=lambda r: (_path_key(r.path), r.order, r.deptId))

    def getDept(self, deptId: str | int) -> Row | None:
        """Return the department with this id, or None."""
        return self.orgStore.depts.get(self.orgStore.key & Q(deptId=str(deptId)))

    def getRootDept(self) -> Row:
        """Return the root department, creating it (id ``1``, the corp's name) if there is none yet."""
        store = self.orgStore
        root = store.depts.get(store.key & Q(parentId__isnull=True), orderList=[["deptId", 1]])
        if root is not None:
            return root
        # An upsert, so two callers at once create one root.
        store.depts.createOrUpdateMany([{"deptId": "1", "name": self._root_name(), "parentId": None, "order": 0,
                                         "path": "/1/", "corpFullName": store.corpFullName,
                                         "corpId": store.corpId, "updatedAt": utc_now()}],
                                       uniqueFields=["corpFullName", "deptId"])
        created = store.depts.get(store.key & Q(deptId="1"))
        assert created is not None
        return created

    def _root_name(self) -> str:
        """Return the name a root department made by getRootDept gets."""
        return self.title

    def getMembers(self, status: str | int | None = None) -> list[Row]:
        """Return every member, or those with a status (``"active"``/``"offline"``; 1 and 2 as aliases)."""
        where = None if status is None else Q(status=member_status(status))
        return list(self.orgStore.all_rows(self.orgStore.members, where))

    def getMember(self, memberId: str) -> Row | None:
        """Return the member with this id, or None if the organisation has none."""
        return self.orgStore.members.get(self.orgStore.key & Q(memberId=str(memberId)))

    # -- writing ---------------------------------------------------------------------------------

    def setUserRole(self, memberId: str, roleIdList: Sequence[str]) -> list[Row]:
        """Give a member exactly these roles (the others are cleared); return its role rows.

        Roles that do not exist yet are created (named after their id). Raise MemberNotFound for
        an unknown member.
        """
        if isinstance(roleIdList, str) or not all(isinstance(r, str) and 0 < len(r) <= 64 for r in roleIdList):
            raise ValueError("roleIdList must be a list of role ids (non-empty text of at most 64 characters)")
        store = self.orgStore
        if self.getMember(memberId) is None:
            raise MemberNotFound(f"{self.corpFullName} has no member {memberId!r}; sync the organisation "
                                 "or check the id")
        wanted = list(dict.fromkeys(roleIdList))
        key = {"corpFullName": store.corpFullName, "corpId": store.corpId}
        if wanted:
            known = {row.roleId for row in store.roles.query(store.key & Q(roleId__in=wanted), fieldList=["roleId"],
                                                             size=len(wanted))["rowDatas"]}
            new_roles = [{"roleId": r, "name": r, **key} for r in wanted if r not in known]
            if new_roles:
                store.roles.createOrUpdateMany(new_roles, uniqueFields=["corpFullName", "roleId"])
            # Set first, then clear the rest: a crash in between leaves a superset, never no roles.
            store.roleMembers.createOrUpdateMany([{"memberId": memberId, "roleId": r, **key} for r in wanted],
                                                 uniqueFields=["corpFullName", "memberId", "roleId"])
            store.roleMembers.deleteByFilter(store.key & Q(memberId=memberId) & ~Q(roleId__in=wanted))
        else:
            store.roleMembers.deleteByFilter(store.key & Q(memberId=memberId))
        rows = store.roleMembers.query(store.key & Q(memberId=memberId), size=max(1, len(wanted)))["rowDatas"]
        order = {r: i for i, r in enumerate(wanted)}
        return sorted(rows, key=lambda row: order.get(row.roleId, len(order)))

    def offlineMember(self, memberIdList: Sequence[str]) -> int:
        """Set these members of this organisation offline (other organisations are untouched); return how many.

        A sync sets members from WeCom's state again: one still active there comes back active.
        """
        if isinstance(memberIdList, str):
            raise ValueError("memberIdList must be a list of member ids, not one string")
        ids = [str(m) for m in memberIdList]
        if not ids:
            return 0
        store = self.orgStore
        return int(store.members.updateByFilter(store.key & Q(memberId__in=ids, status="active"),
                                                {"status": "offline", "updatedAt": utc_now()}))

    # -- organisations made at run time ----------------------------------------------------------

    @classmethod
    def forCorp(cls: type[C], corpId: str, authFullName: str | None = None, *, app: App | None = None) -> C:
        """Return the organisation of ``corpId`` reached through the login element ``authFullName``.

        A folder instance of this Type for that corp and login element is returned when there is one;
        otherwise an organisation without a folder, named ``<Type>:<authFullName>:<corpId>`` (its rows'
        ``corpFullName``), built once per app. It has every method a folder instance has::

            corp = app.getElement("corps.QywxProxyType").forCorp("wwcorp", authFullName="auths.MyLogin")
            corp.syncCorp()

        ``authFullName`` may be left out when the app has exactly one login element of the Type's
        ``loginTypeName``. ``app`` defaults to the open app (see :func:`open_app`).
        """
        app = open_app(app)
        type_spec = _type_spec_of(app, cls)
        if not corpId or not isinstance(corpId, str):
            raise ValueError(f"{type_spec.full_name}.forCorp: corpId must be a corp id, got {corpId!r}")
        auth = authFullName or _only_login(app, cls, type_spec.full_name)
        for name in app.instancesOf(type_spec.full_name):
            found = app.getElement(name)
            if isinstance(found, cls) and found.corpId == corpId and found.authFullName == auth:
                return found
        cache: dict[tuple[str, str, str], Any] = app.shared("jitlite.corps.runtime", dict)
        lock: threading.Lock = app.shared("jitlite.corps.runtime.lock", threading.Lock)
        key = (type_spec.full_name, auth, corpId)
        with lock:
            existing = cache.get(key)
            if existing is None:
                existing = cache[key] = cls._build_runtime(app, type_spec, corpId, auth)
        return existing

    @classmethod
    def _build_runtime(cls: type[C], app: App, type_spec: ElementSpec, corpId: str, authFullName: str) -> C:
        config = cls._runtime_config(app, corpId, authFullName)
        declaration = Declaration(title=f"{corpId} ({authFullName})", type=type_spec.full_name)
        corp = cls(app=app, spec=type_spec, declaration=declaration, config=config)
        corp._runtime_name = f"{type_spec.full_name}:{authFullName}:{corpId}"
        corp.onLoad()
        return corp

    @classmethod
    def _runtime_config(cls, app: App, corpId: str, authFullName: str) -> BaseModel:
        """Return the business config of a run-time organisation (the Type's own schema checks it)."""
        raise NotImplementedError(f"{cls.__qualname__} cannot make organisations at run time")

    @classmethod
    def authorisedCorpIds(cls, login: Any) -> list[str]:
        """Return the corps that authorised a login element of ``loginTypeName`` (none by default)."""
        return []


def _path_key(path: str | None) -> tuple[int, str]:
    return (0, "") if not path else (path.count("/"), path)


def _type_spec_of(app: App, cls: type) -> ElementSpec:
    """Return the spec of the Type whose class ``cls`` is (an override's class counts as its Type's)."""
    for name, found in _corp_types(app):
        if found is cls:
            return app.spec(name)
    raise ElementBuildError(f"{cls.__qualname__} is not the class of a Type of this app; call forCorp on "
                            "app.getElement('<the Type fullName>')")


def _only_login(app: App, cls: type[Corp], type_name: str) -> str:
    names = app.instancesOf(cls.loginTypeName) if cls.loginTypeName else []
    if len(names) != 1:
        raise ValueError(f"{type_name}.forCorp: pass authFullName (the app has {len(names)} elements of "
                         f"{cls.loginTypeName or 'its login Type'}: {', '.join(names) or 'none'})")
    return names[0]


# -- WeCom organisations ---------------------------------------------------------------------------


class WeComCorp(Corp):
    """A WeCom organisation: synced with OrgSync from the corp client :meth:`getClient` gives.

    Settings (app.json ``settings``): ``orgSyncConcurrency`` (requests at once, default 8),
    ``orgSyncBatchSize`` (rows per write, default 1000), ``orgSyncLeaseSeconds`` (default 300),
    ``orgSyncRegistersUsers`` (make every member a system user, default false),
    ``orgSyncWriterProcess`` (let a large org's writes run in a child process, default true) and
    ``orgSyncWriterProcessAfter`` (members written in this process first, default 5000).
    """

    def getClient(self) -> Any:
        """Return the WeCom API client for this corp (``client.department.list()`` works)."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement getClient")

    def orgSync(self, progress: Progress | None = None) -> OrgSync:
        """Return the sync engine for this organisation, configured from the app's settings."""
        return self._org_sync(progress, writer=True)

    def _org_sync(self, progress: Progress | None = None, *, writer: bool) -> OrgSync:
        """Return the sync engine; ``writer`` false for work that never writes a whole org (events, pulls)."""
        settings = self.app.settings
        return OrgSync(self.getClient(), self.orgStore,
                       concurrency=int(settings.get("orgSyncConcurrency", DEFAULT_CONCURRENCY)),
                       batch_size=int(settings.get("orgSyncBatchSize", DEFAULT_BATCH_SIZE)),
                       lease_seconds=float(settings.get("orgSyncLeaseSeconds", DEFAULT_LEASE_SECONDS)),
                       progress=progress, writer_process=self._writer_recipe() if writer else None,
                       writer_process_after=int(settings.get("orgSyncWriterProcessAfter",
                                                             DEFAULT_WRITER_PROCESS_AFTER)))

    def _writer_recipe(self) -> StoreRecipe | None:
        """Return how a writer process opens this organisation's store, or None to write in this process.

        None when the setting ``orgSyncWriterProcess`` is false, or the database lives in this
        process's memory (another process could not reach it).
        """
        if not self.app.settings.get("orgSyncWriterProcess", True):
            return None
        engine = self.orgStore.members.manager.engine
        if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
            return None
        return (open_org_store, (str(self.app.root), dict(self.app.envVars), self.corpFullName, self.corpId,
                                 self.orgStore.registerUsers, engine.url.render_as_string(hide_password=True)))

    def initCorp(self) -> dict[str, Any]:
        """Set up a new organisation: make sure it has a root department, then sync it; return the counts."""
        self.getRootDept()
        return self.syncCorp()

    def syncCorp(self, progress: Progress | None = None) -> dict[str, Any]:
        """Sync departments and members from WeCom; return ``{created, updated, offline, deleted, skipped,
        apiCalls, seconds, …}``.

        Raises CorpNotAuthorized when the corp cancelled its authorisation (its data is kept),
        OrgSyncBusy when another run holds the sync, and the transport's errors (45009 …) as they come.
        """
        return self.orgSync(progress).sync().toDict()

    def onContactChange(self, event: Mapping[str, str]) -> str:
        """Apply a change_contact event (either format); events with ids only fetch the entity."""
        if not self.orgStore.synced_once():
            return f"{self.corpFullName} was never synced; the event is left to its first sync"
        return self._org_sync(writer=False).apply_event(event)

    def getThirdCorpData(self) -> dict[str, Any]:
        """Pull the whole org from WeCom: ``{corpId, corpName, deptList, userList}`` (WeCom's records)."""
        data = self._org_sync(writer=False).pull()
        return {"corpId": self.corpId, "corpName": self._root_name(), "deptList": data["deptList"],
                "userList": data["userList"]}

    def bulkRegister(self, corpData: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update members and their system users from ``corpData`` (``getThirdCorpData``'s shape).

        Members absent from ``userList`` go offline; with a ``deptList`` the departments are brought
        to it as well. Returns the counts, as ``syncCorp`` does.
        """
        if not isinstance(corpData, Mapping) or not isinstance(corpData.get("userList"), list):
            raise ValueError("corpData must be a dict with a userList (what getThirdCorpData returns)")
        if corpData.get("corpId") not in (None, self.corpId):
            raise ValueError(f"corpData is for corp {corpData.get('corpId')}, not {self.corpId}")
        dept_list = corpData.get("deptList")
        if dept_list is not None and not isinstance(dept_list, list):
            raise ValueError("corpData['deptList'] must be a list of departments")
        store = dataclasses.replace(self.orgStore, registerUsers=True)
        engine = OrgSync(None, store, batch_size=int(self.app.settings.get("orgSyncBatchSize", DEFAULT_BATCH_SIZE)))
        return engine.apply(dept_list, corpData["userList"]).toDict()


# -- finding organisations -------------------------------------------------------------------------


def _corp_types(app: App) -> list[tuple[str, type[Corp]]]:
    """Return the organisation Types of an app (fullName, class), found once per app."""
    return list(app.shared("jitlite.corps.types", lambda: _find_corp_types(app)))


def _find_corp_types(app: App) -> list[tuple[str, type[Corp]]]:
    found = []
    for spec in app.specs():
        if spec.kind != "type":
            continue
        chain, current = [], spec.type_spec
        while current is not None:
            chain.append(current.full_name)
            current = current.type_spec
        if META in chain:
            cls = app.getElement(spec.full_name)
            if isinstance(cls, type) and issubclass(cls, Corp):
                found.append((spec.full_name, cls))
    return found


def _runtime_type_for(app: App, login_type: str) -> type[Corp] | None:
    serving = [cls for _, cls in _corp_types(app) if cls.loginTypeName == login_type]
    return serving[0] if serving else None


def organisations_for(app: App, authFullName: str, corpId: str, *, runtime: bool = True) -> list[Corp]:
    """Return the organisations a contact event of ``corpId`` through ``authFullName`` is for.

    Folder instances of any organisation Type for that corp and login element come first; without
    one, the run-time organisation of the Type serving that login Type (``runtime`` False: none).
    """
    _remember(app)
    found = []
    for name in app.instancesOf(META):
        corp = app.getElement(name)
        if isinstance(corp, Corp) and corp.corpId == corpId and corp.authFullName == authFullName:
            found.append(corp)
    if found or not runtime:
        return found
    login = app.getElement(authFullName)
    cls = _runtime_type_for(app, _type_of(login))
    return [] if cls is None else [cls.forCorp(corpId, authFullName=authFullName, app=app)]


def _type_of(login: Any) -> str:
    spec = getattr(login, "spec", None)
    type_spec = getattr(spec, "type_spec", None)
    return str(getattr(type_spec, "full_name", ""))


def organisations(app: App) -> list[Corp]:
    """Return every organisation of an app: folder instances, then one per authorised corp without one."""
    _remember(app)
    found: list[Corp] = [c for c in (app.getElement(n) for n in app.instancesOf(META)) if isinstance(c, Corp)]
    covered = {(c.authFullName, c.corpId) for c in found}
    for _, cls in _corp_types(app):
        if not cls.loginTypeName:
            continue
        for login_name in app.instancesOf(cls.loginTypeName):
            login = app.getElement(login_name)
            for corp_id in cls.authorisedCorpIds(login):
                if (login_name, corp_id) not in covered:
                    covered.add((login_name, corp_id))
                    found.append(cls.forCorp(corp_id, authFullName=login_name, app=app))
    return found


def sync_in_background(app: App, authFullName: str, corpId: str) -> list[threading.Thread]:
    """Start the first sync of the organisations of a corp that just authorised ``authFullName``'s suite.

    Each runs on a daemon thread, so the callback that asked for it is done at once; a sync that a
    stopped process cuts short is picked up by the next :func:`reconcile` once its lease expires.
    The callback services call this after create_auth when the setting ``syncOnAuthorise`` is true.
    """
    started = []
    running: list[threading.Thread] = app.shared("jitlite.corps.background", list)
    for corp in organisations_for(app, authFullName, corpId):
        thread = threading.Thread(target=_first_sync, args=(corp,), name=f"jitlite-first-sync-{corpId}", daemon=True)
        running[:] = [t for t in running if t.is_alive()] + [thread]
        thread.start()
        started.append(thread)
    return started


def _first_sync(corp: Corp) -> None:
    try:
        report = corp.initCorp() if isinstance(corp, WeComCorp) else corp.syncCorp()
        log.info("first sync of %s: %s", corp.corpFullName, report)
    except Exception:  # recorded in the organisation's sync state; the next reconcile tries again
        log.warning("first sync of %s failed", corp.corpFullName, exc_info=True)


def wait_background_syncs(app: App, timeout: float = 30.0) -> bool:
    """Wait until the background syncs of :func:`sync_in_background` end; False if time ran out."""
    deadline = time.monotonic() + timeout
    running: list[threading.Thread] = app.shared("jitlite.corps.background", list)
    for thread in list(running):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
    return True


@dataclass
class ReconcileResult:
    """How one organisation's reconciliation went."""

    corpFullName: str
    corpId: str
    report: dict[str, Any] | None = None
    error: str | None = None
    skipped: str | None = None


def reconcile(app: App, *, minAgeSeconds: float | None = None, only: Iterable[Corp] | None = None,
              progress: Callable[[Corp], Progress | None] | None = None) -> list[ReconcileResult]:
    """Sync every organisation of the app (the periodic full reconciliation); return one result each.

    ``minAgeSeconds`` skips organisations whose last complete sync is younger than that (a periodic
    job runs this often and lets each organisation be synced at most once per period). An
    organisation whose sync is running elsewhere is skipped; a failing one is reported, not raised.
    """
    results = []
    for corp in (list(only) if only is not None else organisations(app)):
        result = ReconcileResult(corp.corpFullName, corp.corpId)
        results.append(result)
        if minAgeSeconds is not None:
            state = corp.orgStore.syncState.get(Q(corpFullName=corp.corpFullName))
            if state is not None and state.lastSuccessAt is not None and \
                    utc_now() - state.lastSuccessAt < timedelta(seconds=minAgeSeconds):
                result.skipped = "synced recently"
                continue
        try:
            sync: Callable[..., dict[str, Any]] = corp.syncCorp
            result.report = sync(progress(corp)) if progress is not None and isinstance(corp, WeComCorp) else sync()
        except OrgSyncBusy as exc:
            result.skipped = str(exc)
        except (JitliteError, WeComError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            log.warning("reconciling %s failed: %s", corp.corpFullName, result.error)
    return results

