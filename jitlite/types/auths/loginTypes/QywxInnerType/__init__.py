"""``auths.loginTypes.QywxInnerType``: login through a WeCom self-built app (自建应用).

One instance is one app of one corp (corpId, corpSecret, agentId, redirectUri). Its members log in
by scanning the WeCom web-login QR code on the PC (``getLoginConfig`` gives the URL and a
single-use state) or from the workbench; ``getLoginCode(authCode, state)`` runs the shared WeCom
login flow and answers the member's details with a one-time ``loginCode`` and ``corpList``.

The app's own token (``getAccessToken``) is cached in ``caches.Default`` with a safety margin,
refreshed single-flight, and on 40014/42001 invalidated and the call retried once. Members and
departments are synced (``syncUserInfo``, ``syncDepartmentInfo``) through jitlite's one org-sync
engine into the ``corps.models`` tables, under this element's fullName.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any, ClassVar

from jitlite.meta.routes import ADMIN, CORP, ApiFunctions
from jitlite.meta.wecom_login import WeComCorpLogin
from jitlite.runtime import clock
from jitlite.runtime.errors import AuthError
from jitlite.storage import Q
from jitlite.wecom import CorpClient, NotFoundOrOutOfScope, WeComError
from jitlite.wecom.orgsync import OrgStore, OrgSync, SyncReport, member_row, write_depts, write_members

from .schema import Config

__all__ = ["MEMBER_FIELDS", "ORG_MODELS", "QywxInnerAuth", "member_info"]

log = logging.getLogger("jitlite.qywx_inner")

#: The fields of a member that getLoginCode and getUserInfo answer (the seed's).
MEMBER_FIELDS = ("userId", "name", "mobile", "email", "avatar", "department", "position", "gender", "status",
                 "isLeader")
#: The org models the sync methods write (the same ones every organisation element uses).
ORG_MODELS = {"depts": "corps.models.CorpDept", "members": "corps.models.CorpMember",
              "roles": "corps.models.CorpRole", "roleMembers": "corps.models.CorpRoleMember",
              "syncState": "corps.models.CorpSyncState"}


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def member_info(member: dict[str, Any]) -> dict[str, Any]:
    """Return the seed's fields of a WeCom member record (``user/get``), empty values as None."""
    flags = [_int_or_none(f) for f in member.get("is_leader_in_dept") or []]
    gender = member.get("gender")
    return {
        "userId": str(member["userid"]),
        "name": member.get("name") or None,
        "mobile": member.get("mobile") or None,
        "email": member.get("email") or member.get("biz_mail") or None,
        "avatar": member.get("avatar") or None,
        "department": [d for d in (_int_or_none(d) for d in member.get("department") or []) if d is not None],
        "position": member.get("position") or None,
        "gender": None if gender in (None, "") else str(gender),
        "status": _int_or_none(member.get("status")),
        "isLeader": any(flags),
    }


class QywxInnerAuth(WeComCorpLogin):
    """A WeCom self-built app: QR login on the PC and password-free login in the workbench."""

    authModelName: ClassVar[str] = "QywxInnerAuthModel"
    #: Over HTTP: the login entries, members' details for members of the corp, syncs for admins.
    #: Never getAccessToken: the app's token stays on the server.
    apiFunctions: ClassVar[ApiFunctions] = {**WeComCorpLogin.apiFunctions, "getUserInfo": CORP,
                                            "syncUserInfo": ADMIN, "syncDepartmentInfo": ADMIN}
    config: Config

    def onLoad(self) -> None:
        """Prepare the shared WeCom context; the client is made on first use."""
        super().onLoad()
        self._client: CorpClient | None = None
        self._client_lock = threading.Lock()
        self._corp_name: str | None = self.config.corpName

    # -- configuration -------------------------------------------------------------------------

    @property
    def corpId(self) -> str:
        """Return the corp id."""
        return self.config.corpId

    @property
    def agentId(self) -> str:
        """Return the app's AgentId."""
        return str(self.config.agentId)

    @property
    def redirectUri(self) -> str:
        """Return where WeCom sends the browser back after a QR login."""
        return str(self.config.redirectUri)

    @property
    def authModel(self) -> Any:
        """Return ``QywxInnerAuthModel``, the members who logged in through self-built apps."""
        return self.getElement(self.authModelElemName)

    def getLoginConfig(self) -> dict[str, Any]:
        """Return what a QR login page needs: corpId, agentId, redirectUri, a fresh single-use state, the URL."""
        state = self.issueState(corpId=self.corpId)
        return {"corpId": self.corpId, "agentId": self.agentId, "redirectUri": self.redirectUri, "state": state,
                "loginUrl": self.buildQrLoginUrl(state=state)}

    # -- the client ----------------------------------------------------------------------------

    def client(self) -> CorpClient:
        """Return the app's WeCom client (its token from ``gettoken`` with corpId and corpSecret)."""
        with self._client_lock:
            if self._client is None:
                self._client = CorpClient(self.corpId, self.config.corpSecret.get_secret_value(), self.agentId,
                                          **self.context.client_options())
            return self._client

    def corpClient(self, corpId: str) -> CorpClient:
        """Return the app's client; this element serves its own corp only."""
        if corpId != self.corpId:
            raise AuthError(f"{self.fullName} is the self-built app of corp {self.corpId}, not of {corpId}")
        return self.client()

    def agentIdFor(self, corpId: str) -> str:
        """Return the app's AgentId (the corp must be this element's)."""
        self.corpClient(corpId)
        return self.agentId

    def getAccessToken(self) -> str:
        """Return the app's access token (cached with a margin; refreshed once across threads and processes)."""
        self.requireActive()
        return self.client().access_token()

    # -- login ---------------------------------------------------------------------------------

    def getLoginCode(self, authCode: str, state: str | None = None) -> dict[str, Any]:
        """Log a member in with a WeCom code: the seed's member fields plus ``loginCode`` and ``corpList``.

        ``userId`` is the member's WeCom userid (as the seed has it); ``sysUserId`` is the system user
        that ``loginCode`` opens a session for. When ``state`` is given it must be one this element
        issued (``getLoginConfig``) and nobody used yet.
        """
        outcome = self.login(authCode, state, corpId=self.corpId)
        issued = self.loginCodeFor(outcome)
        return {**member_info(dict(outcome.identity.details)), "loginCode": issued["loginCode"],
                "corpList": issued["corpList"], "sysUserId": outcome.userId}

    def recordLogin(self, user: Any, identity: Any) -> None:
        """Keep the member's row in QywxInnerAuthModel (profile, system user, the user_ticket encrypted)."""
        details = dict(identity.details)
        values: dict[str, Any] = {**self._auth_row(details), "sysUserId": user.userId}
        ticket = details.get("user_ticket")
        if ticket:
            values["accessToken"] = ticket
            expires_in = details.get("user_ticket_expires_in")
            values["expiresAt"] = None if expires_in is None else clock.utc_now() + timedelta(seconds=int(expires_in))
        self.authModel.updateOrAdd(Q(corpId=self.corpId, userId=values["userId"]),
                                   {**values, "updatedAt": clock.utc_now()})

    def _auth_row(self, member: dict[str, Any]) -> dict[str, Any]:
        """Return the QywxInnerAuthModel fields of a member record."""
        info = member_info(member)
        row = {"corpId": self.corpId, **{k: info[k] for k in MEMBER_FIELDS}}
        row["status"] = None if info["status"] is None else str(info["status"])  # a text column, as WeCom's "1"
        return row

    # -- members -------------------------------------------------------------------------------

    def getUserInfo(self, userId: str) -> dict[str, Any]:
        """Return a member's details (``user/get``): the seed's fields, alias, main department and leaders."""
        self.requireActive()
        if not isinstance(userId, str) or not userId or len(userId) > 64:
            raise ValueError("userId must be a WeCom userid (1 to 64 characters)")
        member = self.client().user.get(userId)
        return {**member_info(member), "alias": member.get("alias") or None,
                "mainDepartment": _int_or_none(member.get("main_department")),
                "isLeaderInDept": [int(f) for f in member.get("is_leader_in_dept") or []],
                "directLeader": list(member.get("direct_leader") or []),
                "telephone": member.get("telephone") or None, "openUserId": member.get("open_userid") or None}

    # -- corps ---------------------------------------------------------------------------------

    @property
    def corpName(self) -> str:
        """Return the corp's name: the config's ``corpName``, else the root department's, else the title."""
        if self._corp_name:
            return self._corp_name
        try:
            name = self.client().department.get(1).get("name")
        except WeComError as exc:  # the root outside the visible range, no permission, WeCom unreachable
            log.info("corp name of %s not readable (%s); using the title", self.corpId, type(exc).__name__)
            return self.title
        if name:
            self._corp_name = str(name)  # a found name is kept; a miss is asked again next time
        return str(name or self.title)

    def corpsOf(self, userId: str) -> list[dict[str, Any]]:
        """Return ``[{corpId, corpName}]`` of this element's corp if the user is one of its members."""
        if self.corpId not in self.corpIdsOf(userId):
            return []
        return [{"corpId": self.corpId, "corpName": self.corpName}]

    # -- organisation sync (through jitlite.wecom.orgsync) -------------------------------------

    def orgStore(self) -> OrgStore:
        """Return where this element's org rows live: the ``corps.models`` tables, keyed by its fullName."""
        models = {name: self.getElement(full_name) for name, full_name in ORG_MODELS.items()}
        return OrgStore(self.fullName, self.corpId, users=self.getElement("auths.models.UserModel"),
                        identities=self.getElement("auths.models.WeComIdentityModel"),
                        registerUsers=bool(self.app.settings.get("orgSyncRegistersUsers", False)), **models)

    def syncUserInfo(self, userId: str, forceUpdate: bool = False) -> None:
        """Bring one member's QywxInnerAuthModel row and org member (CorpMember) up to date with WeCom.

        Rows that did not change are not rewritten unless ``forceUpdate``. A member WeCom no longer
        shows (deleted, or outside the app's visible range) goes offline, and the error is raised.
        """
        if not isinstance(userId, str) or not userId or len(userId) > 64:
            raise ValueError("userId must be a WeCom userid (1 to 64 characters)")
        store = self.orgStore()
        try:
            record = self.client().user.get(userId)
        except NotFoundOrOutOfScope:
            OrgSync(self.client(), store).apply_event({"ChangeType": "delete_user", "UserID": userId})
            raise
        when = clock.utc_now()
        written = write_members(store, [member_row(record, store.corpFullName, store.corpId)], when, SyncReport())
        where = store.key & Q(memberId=userId)
        if forceUpdate and not written:
            store.members.updateByFilter(where, {"updatedAt": when})
        member = store.members.get(where)
        values = self._auth_row(record)
        if member is not None and member.userId:
            values["sysUserId"] = member.userId
        stored = self.authModel.get(Q(corpId=self.corpId, userId=userId))
        if forceUpdate or stored is None or any(stored[k] != v for k, v in values.items()):
            self.authModel.updateOrAdd(Q(corpId=self.corpId, userId=userId), {**values, "updatedAt": when})

    def syncDepartmentInfo(self, deptId: str | int | None = None) -> None:
        """Sync every department the app sees (``deptId`` None), or one department and its subtree.

        New and changed departments are written (unchanged ones are not); stored departments of the
        synced range that WeCom no longer shows are deleted (the root is kept).
        """
        if deptId is not None and not str(deptId).isdigit():
            raise ValueError(f"deptId must be a WeCom department id (a number), not {deptId!r}")
        store = self.orgStore()
        fetched = self.client().department.list(None if deptId is None else int(deptId))
        if deptId is not None and not any(str(d.get("id")) == str(deptId) for d in fetched):
            raise NotFoundOrOutOfScope(60003, f"department {deptId} not returned", "cgi-bin/department/list",
                                       hint=f"department {deptId} does not exist or is outside the app's visible range")
        when = clock.utc_now()
        stored = list(store.all_rows(store.depts, fieldList=["deptId", "name", "parentId", "order", "path"]))
        synced = {str(d["id"]) for d in fetched}
        # Paths run from the top: the departments outside the subtree are given as they are stored.
        records = [{"id": row.deptId, "name": row.name, "parentid": row.parentId, "order": row.order}
                   for row in stored if row.deptId not in synced] + list(fetched)
        write_depts(store, records, when, SyncReport())
        if deptId is None:
            gone = [row.deptId for row in stored if row.deptId not in synced and row.parentId is not None]
        else:
            top = next((row.path for row in stored if row.deptId == str(deptId)), None)
            gone = [row.deptId for row in stored if row.deptId not in synced and top and row.path
                    and row.path.startswith(top)]
        if gone:
            store.depts.deleteByFilter(store.key & Q(deptId__in=gone))
