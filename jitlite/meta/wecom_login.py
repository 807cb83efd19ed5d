"""``WeComCorpLogin``: the WeCom part of the login flow, shared by the WeCom login Types.

A WeCom login code is exchanged the same way whichever app issued it: ``auth/getuserinfo`` with a
corp token gives the member's userid (a non-member gets an openid only and is refused), ``user/get``
gives their details (and ``auth/getuserdetail`` the sensitive ones, when the code came with a
user_ticket), and that becomes an :class:`~jitlite.meta.auths.Identity` (provider ``wecom``, the
corp id, the userid). A Type supplies only where its tokens come from::

    class MyWeComLogin(WeComCorpLogin):
        def corpClient(self, corpId): ...     # a client holding that corp's access token
        def agentIdFor(self, corpId): ...     # the app's AgentId in that corp (login URLs)
        def corpsOf(self, userId): ...        # the corps this element serves that the user is in
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..wecom.client import BaseCorpClient
from ..wecom.context import WeComContext
from ..wecom.errors import ConfigurationError, LoginRestartRequired, NotFoundOrOutOfScope
from ..wecom.login_urls import wecom_oauth_url, wecom_web_login_url
from .auths import WECOM, Identity, LoginType, NotACorpMember, sort_corps

__all__ = ["CodeOwner", "WeComCorpLogin", "code_owner", "member_profile"]

log = logging.getLogger("jitlite.wecom_login")

_CORP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
# Sensitive fields WeCom gives only through auth/getuserdetail (for apps made after June 2022).
_SENSITIVE = ("mobile", "email", "biz_mail", "avatar", "gender", "address")


@dataclass(frozen=True)
class CodeOwner:
    """Whom a WeCom login code belongs to: a member of a corp (and their user_ticket, if any)."""

    corpId: str
    userId: str
    openUserId: str | None = None
    userTicket: str | None = None
    ticketExpiresIn: int | None = None

    def __repr__(self) -> str:  # the user_ticket is a credential
        return f"CodeOwner(corpId={self.corpId!r}, userId={self.userId!r})"


def code_owner(info: dict[str, Any], corpId: str) -> CodeOwner:
    """Return the member an ``auth/getuserinfo``-style answer names; raise NotACorpMember for an openid."""
    user_id = info.get("userid") or info.get("UserId")
    if not user_id:
        # A non-member (a WeChat user, an external contact) gets {openid, external_userid} only.
        raise NotACorpMember(f"the WeCom user is not a member of corp {corpId}, so cannot log in here; "
                             "only members of the corp (within the app's visible range) can")
    expires_in = str(info.get("expires_in") or "")
    return CodeOwner(corpId, str(user_id), info.get("open_userid") or None, info.get("user_ticket") or None,
                     int(expires_in) if expires_in.isdigit() else None)


def member_profile(member: dict[str, Any]) -> dict[str, Any]:
    """Return the system user fields a WeCom member record gives (empty values left out)."""
    profile = {"name": member.get("name"), "mobile": member.get("mobile"), "email": member.get("email"),
               "avatar": member.get("avatar")}
    return {key: value for key, value in profile.items() if value}


class WeComCorpLogin(LoginType):
    """A login through a WeCom app installed in one or more corps (self-built or 代开发)."""

    servesCorps: ClassVar[bool] = True
    #: The ``loginType`` values ``getLoginCode`` accepts (None is always accepted).
    loginTypes: ClassVar[tuple[str, ...]] = ("qr", "workbench")
    loginEntries: ClassVar[tuple[str, ...]] = ("qr", "workbench")
    loginLabel: ClassVar[tuple[str, str]] = ("企业微信扫码登录", "Scan with WeCom")

    def onLoad(self) -> None:
        """Find the app's shared WeCom context (hosts, HTTP transport, token cache)."""
        self.context = WeComContext.of(self.app)

    # -- what each WeCom Type supplies ---------------------------------------------------------

    def corpClient(self, corpId: str) -> BaseCorpClient:
        """Return a client holding the corp's access token for this app."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement corpClient")

    def agentIdFor(self, corpId: str) -> str | None:
        """Return the app's AgentId in the corp."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement agentIdFor")

    def defaultCorpId(self) -> str | None:
        """Return the corp a login URL is for when none is named (the config's ``corpId``)."""
        value = getattr(self.config, "corpId", None)
        return str(value) if value else None

    def defaultRedirectUri(self) -> str | None:
        """Return where WeCom sends the browser back when no redirectUri is named (None: it is required)."""
        value = getattr(self.config, "redirectUri", None)
        return str(value) if value else None

    def corpFromCode(self, loginType: str | None) -> bool:
        """Tell whether the code itself names the corp (then corpId is optional); false by default."""
        return False

    # -- login URLs ----------------------------------------------------------------------------

    def _url_target(self, corpId: str | None, redirectUri: str | None) -> tuple[str, str]:
        corp = corpId or self.defaultCorpId()
        if not corp:
            raise ValueError("corpId is required: the corp whose members log in")
        redirect = redirectUri or self.defaultRedirectUri()
        if not redirect:
            raise ValueError("redirectUri is required: where WeCom sends the browser back with the code")
        return corp, redirect

    def buildQrLoginUrl(self, corpId: str | None = None, redirectUri: str | None = None,
                        state: str | None = None) -> str:
        """Return the WeCom web-login (QR) URL of the corp's app (``login_type=CorpApp``), with a fresh state."""
        corp, redirect = self._url_target(corpId, redirectUri)
        agent = self.agentIdFor(corp)
        return wecom_web_login_url(self.context.host("wecomLoginBaseUrl"), login_type="CorpApp", appid=corp,
                                   agentid=agent, redirect_uri=redirect, state=state or self.issueState(corpId=corp))

    def buildWorkbenchUrl(self, corpId: str | None = None, redirectUri: str | None = None,
                          state: str | None = None) -> str:
        """Return the OAuth URL that opens the app from the WeCom workbench without a password."""
        corp, redirect = self._url_target(corpId, redirectUri)
        agent = self.agentIdFor(corp)
        return wecom_oauth_url(self.context.host("wechatOpenBaseUrl"), appid=corp, redirect_uri=redirect,
                               state=state or self.issueState(corpId=corp), agentid=agent)

    def buildLoginUrl(self, redirectUri: str, state: str, *, corpId: str | None = None,
                      loginType: str | None = None) -> str:
        """Return the QR login URL of the corp's app, or its workbench OAuth URL for ``loginType="workbench"``."""
        if loginType == "workbench":
            return self.buildWorkbenchUrl(corpId, redirectUri, state)
        if loginType not in (None, "qr"):
            raise ValueError(f"loginType must be qr or workbench for a browser login, not {loginType!r}")
        return self.buildQrLoginUrl(corpId, redirectUri, state)

    def redirectContext(self, binding: Mapping[str, Any]) -> dict[str, Any]:
        """Return the corp and loginType a redirect's state was issued for (the default corp when none)."""
        login_type = binding.get("loginType") or "qr"
        corp = binding.get("corpId") or (None if self.corpFromCode(login_type) else self.defaultCorpId())
        return {"corpId": corp, "loginType": login_type}

    # -- the login chain -----------------------------------------------------------------------

    def checkLoginRequest(self, code: str, *, corpId: str | None = None, loginType: str | None = None,
                          **context: Any) -> None:
        """Check the code, the loginType and the corp id before anything is spent."""
        if loginType is not None and loginType not in self.loginTypes:
            raise ValueError(f"loginType must be one of {', '.join(self.loginTypes)} or None, not {loginType!r}")
        if corpId is None or corpId == "":
            if not self.corpFromCode(loginType) or not code:
                raise ValueError("corpId and code are both required")
        elif not isinstance(corpId, str) or not _CORP_ID.fullmatch(corpId):
            raise ValueError("corpId must be a WeCom corp id (1 to 64 letters, digits, '_' or '-')")
        super().checkLoginRequest(code)

    def stateBinding(self, *, corpId: str | None = None, **context: Any) -> dict[str, str | None]:
        """A state issued for one corp is good for that corp only."""
        return {"corpId": corpId or None}

    def resolveIdentity(self, code: str, *, corpId: str | None = None, loginType: str | None = None,
                        **context: Any) -> Identity:
        """Exchange the code for its member, read the member's details and return the identity."""
        owner = self.identifyCode(code, corpId=corpId, loginType=loginType)
        return self.identityOf(owner.corpId, self.memberDetails(owner))

    def identifyCode(self, code: str, *, corpId: str | None, loginType: str | None) -> CodeOwner:
        """Return the member a code belongs to (``auth/getuserinfo`` with the corp's token)."""
        assert corpId is not None  # checkLoginRequest made sure
        client = self.corpClient(corpId)
        return code_owner(client.oauth.getuserinfo(code), corpId)

    def memberDetails(self, owner: CodeOwner) -> dict[str, Any]:
        """Return the member's record (``user/get``, plus ``auth/getuserdetail`` with a user_ticket)."""
        client = self.corpClient(owner.corpId)
        member: dict[str, Any] = {"userid": owner.userId}
        if owner.openUserId:
            member["open_userid"] = owner.openUserId
        try:
            member.update(client.user.get(owner.userId))
        except NotFoundOrOutOfScope as exc:  # outside the visible range: the login stands, without details
            log.info("no details for %s in %s: %s", owner.userId, owner.corpId, exc.errcode)
        except ConfigurationError as exc:
            if exc.errcode != 48002:  # 48002: the app may not read contacts; anything else must be fixed
                raise
            log.info("no details for %s in %s: %s", owner.userId, owner.corpId, exc.errcode)
        if owner.userTicket:
            # Kept with the record (never in a repr) so a Type may store it, encrypted, for later reads.
            member["user_ticket"] = owner.userTicket
            if owner.ticketExpiresIn is not None:
                member["user_ticket_expires_in"] = owner.ticketExpiresIn
            try:
                detail = client.oauth.getuserdetail(owner.userTicket)
            except (NotFoundOrOutOfScope, LoginRestartRequired) as exc:
                log.info("no sensitive details for %s in %s: %s", owner.userId, owner.corpId, exc.errcode)
            else:
                member.update({k: detail[k] for k in _SENSITIVE if detail.get(k) not in (None, "")})
        return member

    def identityOf(self, corpId: str, member: dict[str, Any]) -> Identity:
        """Return the identity of a member record of a corp."""
        return Identity(WECOM, corpId, str(member["userid"]), profile=member_profile(member), details=member)

    # -- corps ---------------------------------------------------------------------------------

    def corpIdsOf(self, userId: str) -> list[str]:
        """Return the ids of the corps where the user has a WeCom identity."""
        return [str(i["appId"]) for i in self.authService.identitiesOf(userId, WECOM)]

    def corpList(self, userId: str, first: str | None = None) -> list[dict[str, Any]]:
        """Return the corps this element serves that the user belongs to, ``first`` first."""
        return sort_corps(self.corpsOf(userId), first)
