"""``corps.QywxProxyType``: the org chart of a WeCom proxy-development (代开发) corp.

An instance is one corp that authorised the suite of a ``auths.loginTypes.QywxProxyType`` login
element. As a folder::

    corps/MyQywxProxyCorp/e.json                {"type": "corps.QywxProxyType", "title": "…"}
    corps/MyQywxProxyCorp/MyQywxProxyCorp.json  {"corpId": "{{qywxProxyCorpId}}", "authFullName": "auths.QywxProxyTemp"}

or, for the corps a SaaS gains at run time, without a folder::

    corp = app.getElement("corps.QywxProxyType").forCorp(corpId, authFullName="auths.QywxProxyTemp")

Either way it has the seed's methods (``initCorp``, ``syncCorp``, ``getRootDept``, ``setUserRole``,
``getClient``, ``getAgentId``, ``getThirdCorpData``, ``bulkRegister``, ``offlineMember``,
``getDepts``, ``getMembers``, ``getMember``, ``getDept``) and applies the corp's ``change_contact``
callbacks as they arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from jitlite.meta.corps import C, WeComCorp, open_app
from jitlite.runtime.errors import CorpNotAuthorized
from jitlite.storage import Q
from jitlite.wecom import ProxyCorpClient

from .schema import Config

if TYPE_CHECKING:
    from jitlite.runtime.app import App

__all__ = ["QywxProxyCorp"]

LOGIN_TYPE = "auths.loginTypes.QywxProxyType"
AUTH_MODEL = f"{LOGIN_TYPE}.QywxProxyAuthModel"


class QywxProxyCorp(WeComCorp):
    """A corp that authorised a proxy-development suite, with its departments and members."""

    loginTypeName: ClassVar[str] = LOGIN_TYPE
    config: Config

    @property
    def login(self) -> Any:
        """Return the login element (``authFullName``) whose suite the corp authorised."""
        return self.getElement(self.authFullName)

    def getClient(self) -> ProxyCorpClient:
        """Return the corp's WeCom client (token from ``gettoken`` with the permanent code).

        Raises CorpNotAuthorized when the corp never authorised the suite or cancelled it.
        """
        try:
            client: ProxyCorpClient = self.login.corpClient(self.corpId)
        except CorpNotAuthorized as exc:
            kept = ("; its synced departments and members are kept, and it syncs again once the corp authorises "
                    "the suite again") if self.orgStore.synced_once() else ""
            raise CorpNotAuthorized(f"{self.corpFullName}: {exc}{kept}") from exc
        return client

    def _root_name(self) -> str:
        row = self.login.authModel.get(Q(suiteId=self.login.suiteId, corpId=self.corpId))
        return str(row.corpName) if row is not None and row.corpName else self.title

    @classmethod
    def forCorp(cls: type[C], corpId: str, authFullName: str | None = None, *, app: App | None = None) -> C:
        """Return the organisation of a corp that authorised the suite of ``authFullName``.

        No folder is needed: every corp authorised through a ``auths.loginTypes.QywxProxyType``
        element is reachable this way, with every method a folder instance has; a folder instance
        for that corp and login element, if the app has one, is what is returned::

            corp = app.getElement("corps.QywxProxyType").forCorp("wwcorp", authFullName="auths.QywxProxyTemp")
            corp.syncCorp()

        Its rows are keyed ``corps.QywxProxyType:<authFullName>:<corpId>`` (its ``corpFullName``).
        """
        return super().forCorp(corpId, authFullName, app=app)

    @classmethod
    def _runtime_config(cls, app: App, corpId: str, authFullName: str) -> Config:
        if authFullName not in app.instancesOf(LOGIN_TYPE):
            raise ValueError(f"corps.QywxProxyType.forCorp: {authFullName!r} is not a {LOGIN_TYPE} element of "
                             f"this app; name one of: {', '.join(app.instancesOf(LOGIN_TYPE)) or 'none'}")
        return Config(corpId=corpId, authFullName=authFullName)

    @classmethod
    def authorisedCorpIds(cls, login: Any) -> list[str]:
        """Return the corps with an active authorisation of the login element's suite."""
        rows = login.authModel.query(Q(suiteId=login.suiteId, status="active"), fieldList=["corpId"],
                                     orderList=[["corpId", 1]], size=100_000)["rowDatas"]
        return [row.corpId for row in rows]

    @staticmethod
    def getAgentId(corpId: str, suiteId: str, *, app: App | None = None) -> str:
        """Return the AgentId of the suite's app in a corp that authorised it (the open app's data).

        Raises CorpNotAuthorized when the corp has no active authorisation of the suite.
        """
        model = open_app(app).getElement(AUTH_MODEL)
        row = model.get(Q(suiteId=suiteId, corpId=corpId))
        if row is None or row.status != "active":
            state = "cancelled its authorisation of" if row is not None else "has not authorised"
            raise CorpNotAuthorized(f"corp {corpId} {state} suite {suiteId}, so it has no agent id")
        if not row.agentId:
            raise CorpNotAuthorized(f"no agent id is known yet for suite {suiteId} in corp {corpId}; it arrives "
                                    "with the authorisation (create_auth) or change_auth")
        return str(row.agentId)
