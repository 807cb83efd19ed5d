"""``auths.loginTypes.QywxProxyType``: WeCom proxy-development (代开发) login.

One instance is one suite (its id, secret, callback Token and EncodingAESKey); any number of corps
authorise it at run time, and their state — permanent code (encrypted), agent id, status — lives in
``QywxProxyAuthModel``, not in folders. In 代开发 the permanent code is the corp's app secret, so a
corp's token comes from ``gettoken`` with it.

Logins run the shared WeCom flow (``jitlite.meta.wecom_login.WeComCorpLogin``): QR (CorpApp web
login) and workbench codes are exchanged with the corp's token; ServiceApp web-login codes
(``loginType="ServiceApp"``, the suite's own login page, where the user picks the corp) with
``service/auth/getuserinfo3rd`` on the suite token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from jitlite.meta.auths import MAX_CODE_LENGTH, NotACorpMember
from jitlite.meta.login_states import DEFAULT_STATE_TTL
from jitlite.meta.replies import Reply
from jitlite.meta.routes import Inbound, Route, RouteNotFound
from jitlite.meta.wecom_login import CodeOwner, WeComCorpLogin, code_owner
from jitlite.runtime import clock
from jitlite.runtime.errors import AuthError, CorpNotAuthorized
from jitlite.storage import Q, Row
from jitlite.wecom import ProxyCorpClient, SuiteClient, WeComCrypto
from jitlite.wecom.login_urls import wecom_web_login_url

from .schema import Config

__all__ = ["CALLBACK_BODY_LIMIT", "LOGIN_TYPES", "SERVICE", "STATE_TTL", "QywxProxyAuth"]

log = logging.getLogger("jitlite.qywx_proxy")

LOGIN_TYPES = ("qr", "workbench", "ServiceApp")
STATE_TTL = DEFAULT_STATE_TTL  # seconds an OAuth state stays valid unless settings.loginStateTtlSeconds
TYPE_NAME = "auths.loginTypes.QywxProxyType"
SERVICE = f"{TYPE_NAME}.services.QywxProxyAuthService"
CALLBACK_MODEL = f"{TYPE_NAME}.QywxProxyCallbackModel"
#: Bytes of a callback body read at most (WeCom's are a few KiB of encrypted XML).
CALLBACK_BODY_LIMIT = 64 * 1024
ORG_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_CORP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_NO_ORG = "no organisation has this code"


def _utc(seconds: float | None = None) -> datetime:
    """Return ``seconds`` (Unix time) as an aware UTC datetime, or now on the app's one clock."""
    return clock.utc_now() if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


class QywxProxyAuth(WeComCorpLogin):
    """A WeCom third-party suite in proxy-development mode, serving every corp that authorises it."""

    authModelName: ClassVar[str] = "QywxProxyAuthModel"
    loginTypes: ClassVar[tuple[str, ...]] = LOGIN_TYPES
    loginEntries: ClassVar[tuple[str, ...]] = ("qr", "ServiceApp", "workbench", "orgCode")
    callbackServiceName: ClassVar[str] = SERVICE
    callbackModelName: ClassVar[str] = CALLBACK_MODEL
    config: Config

    @classmethod
    def webRoutes(cls, app: Any) -> list[Route]:
        """Return the suite callbacks, the workbench and organisation-code entries this Type serves."""
        return _routes(app)

    def onLoad(self) -> None:
        """Prepare the callback crypto and the clients' shared context."""
        super().onLoad()
        auth = self.config.authConfig
        self.crypto = WeComCrypto(
            auth.token.get_secret_value(),
            auth.encodingAESKey.get_secret_value(),
            None,  # receive-ids are checked by the service against the suite and its corps
            timestamp_window=int(self.app.settings.get("callbackTimestampWindow", 300)),
            nonce_cache=self.app.defaultCache(),
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

    def servesCorp(self, corpId: str) -> bool:
        """Tell whether this element logs in members of ``corpId``: every corp, unless its config names one."""
        return not self.corpId or self.corpId == corpId

    def requireServes(self, corpId: str) -> None:
        """Raise CorpNotAuthorized unless this element logs in members of ``corpId``."""
        if not self.servesCorp(corpId):
            raise CorpNotAuthorized(
                f"{self.fullName} logs in members of corp {self.corpId} only, not {corpId}; use the login "
                f"element configured for {corpId}, or one of suite {self.suiteId} without a corpId")

    def checkLoginRequest(self, code: str, *, corpId: str | None = None, loginType: str | None = None,
                          **context: Any) -> None:
        """Check the request as every WeCom login does, and that the corp is one this element serves."""
        super().checkLoginRequest(code, corpId=corpId, loginType=loginType, **context)
        if corpId:
            self.requireServes(corpId)

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

    def agentIdFor(self, corpId: str) -> str | None:
        """Return the 代开发 app's AgentId in an authorised corp (raise CorpNotAuthorized otherwise)."""
        agent_id = self.corpAuth(corpId).agentId
        return None if agent_id is None else str(agent_id)

    # -- login URLs and OAuth state ------------------------------------------------------------

    def createState(self, corpId: str | None = None) -> str:
        """Return a random, single-use OAuth state (valid ten minutes unless settings.loginStateTtlSeconds)."""
        return self.issueState(corpId=corpId)

    def consumeState(self, state: str, corpId: str | None = None) -> None:
        """Spend an OAuth state; raise LoginStateInvalid if it is unknown, used, expired or for another corp."""
        self.loginStates.consume(state, corpId=corpId)

    def _state_key(self, state: str) -> str:
        return self.loginStates.key(state)

    def buildServiceLoginUrl(self, redirectUri: str, state: str | None = None) -> str:
        """Return the suite's WeCom web-login URL (``login_type=ServiceApp``): the user scans, then picks a corp."""
        return wecom_web_login_url(self.context.host("wecomLoginBaseUrl"), login_type="ServiceApp",
                                   appid=self.suiteId, redirect_uri=redirectUri, state=state or self.createState())

    def buildLoginUrl(self, redirectUri: str, state: str, *, corpId: str | None = None,
                      loginType: str | None = None) -> str:
        """Return the corp's QR login URL, the workbench OAuth URL, or the suite's own (``ServiceApp``) login page.

        Without a corp (none named and no ``corpId`` in the config) the suite's login page is used,
        where the member's corp is picked by scanning.
        """
        if self._service_app(corpId, loginType):
            return self.buildServiceLoginUrl(redirectUri, state)
        return super().buildLoginUrl(redirectUri, state, corpId=corpId, loginType=loginType)

    def redirectContext(self, binding: Mapping[str, Any]) -> dict[str, Any]:
        """Return the corp and loginType of a redirect (ServiceApp when the state named no corp and none is set)."""
        if self._service_app(binding.get("corpId"), binding.get("loginType")):
            return {"corpId": None, "loginType": "ServiceApp"}
        return super().redirectContext(binding)

    def _service_app(self, corpId: str | None, loginType: str | None) -> bool:
        return loginType == "ServiceApp" or (loginType in (None, "qr") and not (corpId or self.defaultCorpId()))

    # -- login ---------------------------------------------------------------------------------

    def getLoginCode(  # type: ignore[override]  # the seed names its arguments corpId, code, loginType
        self, corpId: str | None = None, code: str | None = None, loginType: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """Exchange a WeCom code (QR, workbench or ServiceApp) for a login code: ``{loginCode, corpList, userId}``.

        ``corpId`` may be left out for ``loginType="ServiceApp"``, whose code names the corp.
        """
        return self.loginCodeFor(self.login(code or "", state, corpId=corpId, loginType=loginType))

    def loginMember(
        self, corpId: str | None, code: str, loginType: str | None = None, state: str | None = None
    ) -> tuple[Row, dict[str, Any]]:
        """Resolve a WeCom code to the member and their system user (created on first login)."""
        outcome = self.login(code, state, corpId=corpId, loginType=loginType)
        return outcome.user, dict(outcome.identity.details)

    def corpFromCode(self, loginType: str | None) -> bool:
        """ServiceApp codes name their corp; QR and workbench codes are the named corp's."""
        return loginType == "ServiceApp"

    def identifyCode(self, code: str, *, corpId: str | None, loginType: str | None) -> CodeOwner:
        """Exchange a code: ServiceApp codes on the suite token, the others on the corp's token."""
        if loginType != "ServiceApp":
            return super().identifyCode(code, corpId=corpId, loginType=loginType)
        info = self.suiteClient().service.getuserinfo3rd(code)
        corp = info.get("corpid") or info.get("CorpId")
        if not corp or not (info.get("userid") or info.get("UserId")):
            raise NotACorpMember("the WeCom user is not a member of a corp that authorised suite "
                                 f"{self.suiteId}, so cannot log in here")
        if corpId and corp != corpId:
            raise AuthError(f"the login code is for corp {corp}, not {corpId}; start the login again")
        self.requireServes(str(corp))
        self.corpAuth(str(corp))  # an authorised, active corp only
        return code_owner(info, str(corp))

    def corpsOf(self, userId: str) -> list[dict[str, Any]]:
        """Return the authorised corps (of this suite) the user belongs to: ``[{corpId, corpName}]``."""
        corp_ids = self.corpIdsOf(userId)
        if not corp_ids:
            return []
        rows = self.authModel.query(Q(suiteId=self.suiteId, status="active", corpId__in=corp_ids),
                                    fieldList=["corpId", "corpName"], size=1000)["rowDatas"]
        return [{"corpId": r.corpId, "corpName": r.corpName} for r in rows]

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


# -- the URLs this Type serves (mounted by jitlite.web; plain values in, a Reply out) ---------------


def _routes(app: Any) -> list[Route]:
    def proxies() -> list[str]:
        return app.instancesOf(TYPE_NAME)

    def service() -> Any:
        return app.getElement(SERVICE)

    def callback(request: Inbound) -> Reply:
        name = request.args.get("authFullName")
        if name is not None and name not in proxies():  # checked against the index: nothing is built
            raise RouteNotFound(f"no {TYPE_NAME} login element has this name")
        body = request.body if request.method == "POST" else None
        answer: Reply = service().answerCallback(request.query, body, authFullName=name)
        return answer

    def workbench(request: Inbound) -> Reply:
        query = request.query
        corp_id, code = query.get("corpId") or query.get("appid"), query.get("code")
        name = query.get("authFullName")
        if not corp_id or not code:
            raise ValueError("invalid request query: corpId (or appid) and code are required")
        if not _CORP_ID.fullmatch(corp_id) or len(code) > MAX_CODE_LENGTH:
            raise ValueError("invalid request query: corpId must be a WeCom corp id and code a WeCom code")
        if name is not None and name not in proxies():
            raise RouteNotFound(f"no {TYPE_NAME} login element has this name")
        return Reply.json(service().loginByWorkbench(corpId=corp_id, code=code, platform=query.get("platform", "app"),
                                                     authFullName=name))

    def org_config(code: str) -> dict[str, Any]:
        if not ORG_CODE.fullmatch(code):
            raise RouteNotFound(_NO_ORG)
        try:
            found: dict[str, Any] = service().getLoginConfigByCode(code)
        except AuthError as exc:
            if type(exc) is AuthError:  # "unknown organisation code"; subclasses keep their status
                raise RouteNotFound(_NO_ORG) from None
            raise
        return found

    def org_code(request: Inbound) -> Reply:
        return Reply.json(org_config(request.args["code"]))

    def org_login(request: Inbound) -> Reply:
        code = request.args.get("code") or request.query.get("code") or ""
        if "code" not in request.args:  # the login page's form: on to the canonical URL
            if not ORG_CODE.fullmatch(code):
                raise RouteNotFound(_NO_ORG)
            rest = urlencode({k: v for k, v in request.query.items() if k == "next"})
            return Reply.redirect(f"/login/org/{code}" + (f"?{rest}" if rest else ""))
        config = org_config(code)
        query = {"corpId": config["corpId"], "loginType": "qr",
                 **{k: v for k, v in request.query.items() if k == "next"}}
        return Reply.redirect(f"/login/{quote(config['authFullName'])}?{urlencode(query)}")

    return [
        Route("/callbacks/qywx-proxy", ("GET", "POST"), callback, "qywx-proxy-callback", CALLBACK_BODY_LIMIT),
        Route("/callbacks/qywx-proxy/<authFullName>", ("GET", "POST"), callback, "qywx-proxy-callback-of",
              CALLBACK_BODY_LIMIT),
        Route("/auth/qywx-proxy/workbench", ("GET",), workbench, "qywx-proxy-workbench"),
        Route("/auth/org/<code>", ("GET",), org_code, "qywx-proxy-org-code"),
        Route("/login/org", ("GET",), org_login, "qywx-proxy-org-login-form", page=True),
        Route("/login/org/<code>", ("GET",), org_login, "qywx-proxy-org-login", page=True),
    ]
