"""``auths.loginTypes.QywxProxyType``: WeCom proxy-development (代开发) login.

One instance is one suite (its id, secret, callback Token and EncodingAESKey); any number of corps
authorise it at run time, and their state — permanent code (encrypted), agent id, status — lives in
``QywxProxyAuthModel``, not in folders. In 代开发 the permanent code is the corp's app secret, so a
corp's token comes from ``gettoken`` with it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlencode

from jitlite.meta.auths import LoginType
from jitlite.runtime.errors import AuthError, CorpNotAuthorized, LoginStateInvalid
from jitlite.storage import Q, Row
from jitlite.wecom import ProxyCorpClient, SuiteClient, WeComAPIError, WeComCrypto
from jitlite.wecom.context import WeComContext

from .schema import Config

__all__ = ["LOGIN_TYPES", "STATE_TTL", "QywxProxyAuth"]

log = logging.getLogger("jitlite.qywx_proxy")

LOGIN_TYPES = ("qr", "workbench")
STATE_TTL = 600  # seconds an OAuth state stays valid


def _utc(seconds: float | None = None) -> datetime:
    return datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


class QywxProxyAuth(LoginType):
    """A WeCom third-party suite in proxy-development mode, serving every corp that authorises it."""

    authModelName: ClassVar[str] = "QywxProxyAuthModel"
    config: Config

    def onLoad(self) -> None:
        """Prepare the callback crypto and the clients' shared context."""
        auth = self.config.authConfig
        self.context = WeComContext.of(self.app)
        self.crypto = WeComCrypto(
            auth.token.get_secret_value(),
            auth.encodingAESKey.get_secret_value(),
            None,  # receive-ids are checked by the service against the suite and its corps
            timestamp_window=int(self.app.settings.get("callbackTimestampWindow", 300)),
            nonce_cache=self.getElement("caches.Default"),
        )
        self._clients: dict[tuple[str, str], ProxyCorpClient] = {}
        self._clients_lock = threading.Lock()
        self._suite_client: SuiteClient | None = None

    # -- configuration -------------------------------------------------------------------------

    @property
    def suiteId(self) -> str:
        """Return the suite id."""
        return self.config.authConfig.suiteId

    @property
    def corpId(self) -> str | None:
        """Return the default corp id of this login configuration, if one is set."""
        return self.config.corpId

    @property
    def authModel(self) -> Any:
        """Return the model element of the corps that authorised the suite."""
        return self.getElement(self.authModelElemName)

    def getLoginConfig(self) -> dict[str, Any]:
        """Return what a login page needs: the suite id, the default corp and the switches; no secret."""
        return {
            "suiteId": self.suiteId,
            "corpId": self.corpId,
            "authType": self.authType,
            "isActive": self.isActive,
        }

    # -- clients -------------------------------------------------------------------------------

    def suiteClient(self) -> SuiteClient:
        """Return the suite's client (suite token from the newest stored suite_ticket)."""
        if self._suite_client is None:
            self._suite_client = SuiteClient(
                self.suiteId, self.config.authConfig.suiteSecret.get_secret_value(), self.context.tickets,
                **self.context.client_options())
        return self._suite_client

    def corpAuth(self, corpId: str) -> Row:
        """Return the active authorisation of a corp; raise CorpNotAuthorized otherwise."""
        row = self.authModel.get(Q(suiteId=self.suiteId, corpId=corpId))
        if row is not None and row.status != "active":
            raise CorpNotAuthorized(f"corp {corpId} cancelled its authorisation of suite {self.suiteId}")
        if row is None or row.permanentCode is None:
            raise CorpNotAuthorized(f"corp {corpId} has not authorised suite {self.suiteId}; an admin of the corp "
                                    "must install the app first")
        return row

    def corpClient(self, corpId: str) -> ProxyCorpClient:
        """Return a client for an authorised corp (token from gettoken with the permanent code)."""
        row = self.corpAuth(corpId)
        key = (corpId, hashlib.sha256(row.permanentCode.encode()).hexdigest())
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                # A reset permanent code gives a new key; drop the client of the old one.
                for old in [k for k in self._clients if k[0] == corpId]:
                    self._clients.pop(old).close()
                client = self._clients[key] = ProxyCorpClient(
                    corpId, row.permanentCode, row.agentId, **self.context.client_options())
            return client

    # -- login URLs and OAuth state ------------------------------------------------------------

    def createState(self, corpId: str | None = None) -> str:
        """Return a random, single-use OAuth state valid for ten minutes."""
        state = secrets.token_urlsafe(18)
        cache = self.getElement("caches.Default")
        cache.set(self._state_key(state), {"auth": self.fullName, "corpId": corpId}, ttl=STATE_TTL)
        return state

    def consumeState(self, state: str, corpId: str | None = None) -> None:
        """Check and spend an OAuth state; raise LoginStateInvalid if it is unknown, used or expired."""
        cache = self.getElement("caches.Default")
        key = self._state_key(state)
        saved = cache.get(key)
        # delete() succeeds for one caller only: a state is spent exactly once.
        if not saved or saved.get("auth") != self.fullName or not cache.delete(key):
            raise LoginStateInvalid("the login state is invalid or expired; start the login again")
        if corpId is not None and saved.get("corpId") not in (None, corpId):
            raise LoginStateInvalid("the login state was issued for another corp; start the login again")

    @staticmethod
    def _state_key(state: str) -> str:
        return "qywx-proxy-state:" + hashlib.sha256(str(state).encode()).hexdigest()

    def buildQrLoginUrl(self, corpId: str, redirectUri: str, state: str | None = None) -> str:
        """Return the WeCom web-login (QR) URL of the corp's 代开发 app, with a fresh state if none given."""
        row = self.corpAuth(corpId)
        query = {"login_type": "CorpApp", "appid": corpId, "agentid": row.agentId or "",
                 "redirect_uri": redirectUri, "state": state or self.createState(corpId)}
        return f"{self.context.host('wecomLoginBaseUrl')}/wwlogin/sso/login?{urlencode(query)}"

    def buildWorkbenchUrl(self, corpId: str, redirectUri: str, state: str | None = None) -> str:
        """Return the OAuth URL that opens the app from the WeCom workbench without a password."""
        row = self.corpAuth(corpId)
        query = {"appid": corpId, "redirect_uri": redirectUri, "response_type": "code", "scope": "snsapi_base",
                 "state": state or self.createState(corpId), "agentid": row.agentId or ""}
        return f"{self.context.host('wechatOpenBaseUrl')}/connect/oauth2/authorize?{urlencode(query)}#wechat_redirect"

    # -- login ---------------------------------------------------------------------------------

    def getLoginCode(
        self, corpId: str, code: str, loginType: str | None = None, state: str | None = None
    ) -> dict[str, Any]:
        """Exchange a WeCom code (QR or workbench) for a one-time login code: ``{loginCode, corpList, userId}``."""
        user, _member = self.loginMember(corpId, code, loginType, state)
        auth_service = self.getElement("auths.services.AuthService")
        corp_list = self.corpList(user.userId, first=corpId)
        login_code = auth_service.createLoginCode(user.userId, corp_list, self.authType)
        return {"loginCode": login_code, "corpList": corp_list, "userId": user.userId}

    def loginMember(
        self, corpId: str, code: str, loginType: str | None = None, state: str | None = None
    ) -> tuple[Row, dict[str, Any]]:
        """Resolve a WeCom code to the member and their system user (created on first login)."""
        self.requireActive()
        if loginType is not None and loginType not in LOGIN_TYPES:
            raise ValueError(f"loginType must be one of {', '.join(LOGIN_TYPES)} or None, not {loginType!r}")
        if not corpId or not code:
            raise ValueError("corpId and code are both required")
        if state is not None:
            self.consumeState(state, corpId)
        client = self.corpClient(corpId)
        identity = client.oauth.getuserinfo(code)
        wecom_user_id = identity.get("userid") or identity.get("UserId")
        if not wecom_user_id:
            raise AuthError(f"the WeCom user is not a member of corp {corpId}, so cannot log in here")
        member: dict[str, Any] = {"userid": wecom_user_id}
        try:
            member.update(client.user.get(wecom_user_id))
        except WeComAPIError as exc:  # outside the app's visible range, or no permission to read names
            log.info("no details for %s in %s: %s", wecom_user_id, corpId, exc.errcode)
        user = self.getElement("auths.services.AuthService").ensureWeComUser(
            corpId, wecom_user_id, name=member.get("name"), openUserId=member.get("open_userid"),
            mobile=member.get("mobile") or None, email=member.get("email") or None,
            avatar=member.get("avatar") or None)
        return user, member

    def corpList(self, userId: str, first: str | None = None) -> list[dict[str, Any]]:
        """Return the authorised corps (of this suite) the user belongs to: ``[{corpId, corpName}]``."""
        identities = self.getElement("auths.models.WeComIdentityModel").query(
            Q(userId=userId), fieldList=["corpId"], size=1000)["rowDatas"]
        corp_ids = [r.corpId for r in identities]
        if not corp_ids:
            return []
        rows = self.authModel.query(Q(suiteId=self.suiteId, status="active", corpId__in=corp_ids),
                                    fieldList=["corpId", "corpName"], size=1000)["rowDatas"]
        corps = [{"corpId": r.corpId, "corpName": r.corpName} for r in rows]
        corps.sort(key=lambda c: (c["corpId"] != first, c["corpId"]))
        return corps

    # -- applying suite events (called by the service's callback processing) -------------------

    def saveSuiteTicket(self, ticket: str, eventTime: float) -> None:
        """Keep a pushed suite_ticket (the newest wins)."""
        self.context.tickets.save(self.suiteId, ticket, eventTime)

    def applyAuthCode(self, authCode: str, eventTime: float) -> str:
        """Exchange an AuthCode (create_auth or reset_permanent_code) for the permanent code; return the corp id."""
        data = self.suiteClient().service.get_permanent_code(authCode)
        corp = data.get("auth_corp_info") or {}
        corp_id = corp.get("corpid") or data.get("auth_corpid")
        permanent_code = data.get("permanent_code")
        if not corp_id or not permanent_code:
            raise ValueError("get_permanent_code answered without a corp id or permanent code")
        agents = (data.get("auth_info") or {}).get("agent") or []
        values = {
            "permanentCode": permanent_code,
            "corpName": corp.get("corp_name"),
            "agentId": str(agents[0]["agentid"]) if agents and agents[0].get("agentid") else None,
            "authInfo": {"auth_corp_info": corp, "auth_info": data.get("auth_info") or {}},
            "status": "active",
            "cancelledAt": None,
        }
        self._apply(corp_id, eventTime, values, allow_create=True)
        return str(corp_id)

    def applyChangeAuth(self, corpId: str, eventTime: float) -> None:
        """Re-read a corp's auth info (agents, scope) after change_auth."""
        row = self.corpAuth(corpId)
        data = self.suiteClient().service.get_auth_info(corpId, row.permanentCode)
        agents = (data.get("auth_info") or {}).get("agent") or []
        corp = data.get("auth_corp_info") or {}
        values: dict[str, Any] = {"authInfo": {"auth_corp_info": corp, "auth_info": data.get("auth_info") or {}}}
        if corp.get("corp_name"):
            values["corpName"] = corp["corp_name"]
        if agents and agents[0].get("agentid"):
            values["agentId"] = str(agents[0]["agentid"])
        self._apply(corpId, eventTime, values, allow_create=False)

    def applyCancelAuth(self, corpId: str, eventTime: float) -> None:
        """Stop serving a corp: no more tokens or logins; its data is kept, marked cancelled."""
        self._apply(corpId, eventTime, {"status": "cancelled", "cancelledAt": _utc()}, allow_create=True)

    def _apply(self, corpId: str, eventTime: float, values: dict[str, Any], *, allow_create: bool) -> None:
        """Apply an auth event unless a newer one was already applied (deliveries can come late)."""
        model = self.authModel
        when = _utc(eventTime)
        changes = {**values, "lastEventAt": when, "updatedAt": _utc()}
        where = Q(suiteId=self.suiteId, corpId=corpId)
        newer_or_equal = Q(lastEventAt__isnull=True) | Q(lastEventAt__lte=when)
        if model.updateByFilter(where & newer_or_equal, changes):
            return
        if model.get(where) is not None:
            log.info("ignored a late %s event for %s (a newer one was applied)", values.get("status", "auth"), corpId)
            return
        if not allow_create:
            raise CorpNotAuthorized(f"corp {corpId} has no authorisation of suite {self.suiteId} to change")
        model.createOrUpdateMany([{"suiteId": self.suiteId, "corpId": corpId, **changes}],
                                 uniqueFields=["suiteId", "corpId"])
