"""``auths.loginTypes.WeChatType``: WeChat Open Platform website login (网站应用微信登录).

One instance is one website app (``authConfig.appId`` and its AppSecret). The browser goes to the
``qrconnect`` URL (``buildQrConnectUrl``, with a single-use state); WeChat sends it back with a
code, and ``getLoginCode(code)`` runs the shared login flow: ``sns/oauth2/access_token`` gives the
openId (and unionId), ``sns/userinfo`` the nickname and avatar, and the system user is the one bound
to that unionId (through any app of the Open Platform account), else to (appId, openId), else a new
one — unless the app's settings forbid registration. ``bind``/``unbind`` link an account to an
existing user (a WeCom member, say) and remove it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from jitlite.meta.auths import WECHAT, Identity, LoginType, UnknownUser
from jitlite.meta.routes import SELF, ApiFunctions
from jitlite.runtime import clock
from jitlite.runtime.errors import AuthError, ElementBuildError
from jitlite.runtime.schema import MASK
from jitlite.storage import Q
from jitlite.wecom import LoginRestartRequired, NotFoundOrOutOfScope, TokenExpiredError, WeChatClient
from jitlite.wecom.context import WeComContext
from jitlite.wecom.login_urls import wechat_qrconnect_url

from .schema import Config, Declaration

__all__ = ["OPERATION_SUCCESSFUL", "WeChatAuth"]

log = logging.getLogger("jitlite.wechat")

#: What bind and unbind answer, as the seed has it.
OPERATION_SUCCESSFUL: dict[str, Any] = {"success": True, "message": "Operation successful"}


def _plausible_user_id(value: object) -> bool:
    """Tell whether a value could be a system userId (a short non-empty string) before any lookup."""
    return isinstance(value, str) and 0 < len(value) <= 64


class WeChatAuth(LoginType):
    """A WeChat Open Platform website app: QR login, bind and unbind."""

    authModelName: ClassVar[str] = "WeChatAuthModel"
    #: Over HTTP a caller binds and unbinds their own WeChat account (an admin, anyone's).
    apiFunctions: ClassVar[ApiFunctions] = {**LoginType.apiFunctions, "bind": SELF, "unbind": SELF}
    loginEntries: ClassVar[tuple[str, ...]] = ("qr",)
    loginLabel: ClassVar[tuple[str, str]] = ("微信扫码登录", "Log in with WeChat")
    config: Config
    declaration: Declaration

    def onLoad(self) -> None:
        """Check the AppSecret is given once (or twice, the same) and prepare the client's context."""
        self._app_secret = self._configured_secret()
        self.context = WeComContext.of(self.app)
        self._client: WeChatClient | None = None
        self._client_lock = threading.Lock()

    def _configured_secret(self) -> str:
        """Return the AppSecret from e.json ``appSecret`` or ``authConfig.appSecret``; raise if missing or different."""
        declared = self.declaration.appSecret
        configured = self.config.authConfig.appSecret
        where = f"{self.spec.declaration_path} (appSecret) or {self.spec.config_path or self.spec.folder} " \
                "(authConfig.appSecret)"
        if declared is None and configured is None:
            raise ElementBuildError(f"{self.fullName}: the WeChat AppSecret is missing — set it in {where}, best "
                                    "as a placeholder such as \"{{wechatAppSecret}}\" filled from jitlite.toml")
        if declared is not None and configured is not None \
                and declared.get_secret_value() != configured.get_secret_value():
            raise ElementBuildError(f"{self.fullName}: e.json appSecret and authConfig.appSecret differ — keep one "
                                    f"of them, or make both the same ({where})")
        chosen = declared if declared is not None else configured
        assert chosen is not None
        return chosen.get_secret_value()

    # -- properties ----------------------------------------------------------------------------

    @property
    def appId(self) -> str:
        """Return the website app's AppID."""
        return self.config.authConfig.appId

    @property
    def authType(self) -> str:
        """Return "WeChatType", the identifier WeChat login has always used."""
        return "WeChatType"

    @property
    def authConfig(self) -> dict[str, Any]:
        """Return ``{"appId": …, "appSecret": "******"}`` (the secret is never shown)."""
        return {"appId": self.appId, "appSecret": MASK}

    @property
    def authModel(self) -> Any:
        """Return ``WeChatAuthModel``: the WeChat accounts bound to users."""
        return self.getElement(self.authModelElemName)

    def getLoginConfig(self) -> dict[str, Any]:
        """Return what a login page needs: whether it is on, the auth type and the app id."""
        return {
            "isActive": self.isActive,
            "authType": self.authType,
            "authConfig": {"appId": self.appId},
        }

    def buildQrConnectUrl(self, redirectUri: str, state: str | None = None) -> str:
        """Return the WeChat QR login URL (``connect/qrconnect``, ``snsapi_login``) with a fresh single-use state."""
        self.requireActive()
        return wechat_qrconnect_url(self.context.host("wechatOpenBaseUrl"), appid=self.appId,
                                    redirect_uri=redirectUri, state=state or self.issueState())

    def buildLoginUrl(self, redirectUri: str, state: str, *, corpId: str | None = None,
                      loginType: str | None = None) -> str:
        """Return the WeChat QR login URL coming back to ``redirectUri`` (WeChat logins have no corp)."""
        if loginType not in (None, "qr"):
            raise ValueError(f"WeChat login has no loginType {loginType!r}")
        return self.buildQrConnectUrl(redirectUri, state)

    # -- the client ----------------------------------------------------------------------------

    def client(self) -> WeChatClient:
        """Return the app's WeChat client."""
        with self._client_lock:
            if self._client is None:
                self._client = WeChatClient(self.appId, self._app_secret, **self.context.client_options(wechat=True))
            return self._client

    # -- login (getLoginCode is LoginType's template) ------------------------------------------

    def resolveIdentity(self, code: str, **context: Any) -> Identity:
        """Exchange the code (``sns/oauth2/access_token``) and read the profile (``sns/userinfo``)."""
        client = self.client()
        token = client.sns.oauth2_access_token(code)
        openid = token.get("openid")
        if not isinstance(openid, str) or not openid:
            raise AuthError("WeChat answered the code without an openid; start the login again")
        info: dict[str, Any] = {}
        access_token = token.get("access_token")
        if isinstance(access_token, str) and access_token:
            try:
                info = client.sns.userinfo(access_token, openid)
            except (TokenExpiredError, NotFoundOrOutOfScope, LoginRestartRequired) as exc:
                # The account is known from the token answer; only its nickname and avatar are missing.
                log.info("no WeChat profile for an openid of %s: %s", self.appId, exc.errcode)
        union_id = token.get("unionid") or info.get("unionid") or None
        profile = {"name": info.get("nickname") or None, "avatar": info.get("headimgurl") or None}
        details = {"openid": openid, "unionid": union_id, "scope": token.get("scope"),
                   "refresh_token": token.get("refresh_token"), **{k: v for k, v in info.items() if k != "openid"}}
        return Identity(WECHAT, self.appId, openid, unionId=union_id,
                        profile={k: v for k, v in profile.items() if v}, details=details)

    def recordLogin(self, user: Any, identity: Identity) -> None:
        """Keep the account's row in WeChatAuthModel: its user, unionId and refresh token (encrypted)."""
        values: dict[str, Any] = {"userId": user.userId, "unionId": identity.unionId, "updatedAt": clock.utc_now()}
        refresh_token = identity.details.get("refresh_token")
        if refresh_token:
            values["refreshToken"] = refresh_token
        self.authModel.updateOrAdd(Q(appId=self.appId, openId=identity.externalId), values)

    # -- binding -------------------------------------------------------------------------------

    def bind(self, userId: str, code: str, state: str | None = None) -> dict[str, Any]:
        """Bind the WeChat account behind ``code`` to an existing user; answer ``{"success": True, …}``.

        Refused (AuthError) for an unknown user, an account bound to another user, or a user who
        already has another WeChat account bound in this app.
        """
        self.requireActive()
        self.checkLoginRequest(code)
        user = self.authService.getUser(userId) if _plausible_user_id(userId) else None
        if user is None:  # before the code is spent, so the user can retry with it
            raise UnknownUser(f"no user has the userId {userId!r}; bind WeChat to an existing user")
        if state is not None:
            self.loginStates.consume(state)
        identity = self.resolveIdentity(code)
        self.authService.bindIdentity(userId, identity)
        self.recordLogin(user, identity)
        return dict(OPERATION_SUCCESSFUL)

    def unbind(self, userId: str) -> dict[str, Any]:
        """Remove the user's WeChat account of this app; answer ``{"success": True, …}`` (AuthError if none)."""
        if not _plausible_user_id(userId):
            raise UnknownUser(f"no user has the userId {userId!r}")
        self.authService.unbindIdentity(userId, WECHAT, self.appId)
        self.authModel.deleteByFilter(Q(appId=self.appId, userId=userId))
        return dict(OPERATION_SUCCESSFUL)

    def getUserAuthInfo(self, authObj: Any) -> dict[str, Any]:
        """Return ``{"isActive": …}`` for a WeChatAuthModel row or dict: bound, of this app, login enabled."""
        if authObj is None:
            return {"isActive": False}
        if hasattr(authObj, "toDict"):
            data = authObj.toDict()
        elif isinstance(authObj, Mapping):
            data = dict(authObj)
        else:
            raise TypeError(f"authObj must be a WeChatAuthModel row or a dict, not {type(authObj).__name__}")
        user_id, open_id = data.get("userId"), data.get("openId")
        if not self.isActive or not user_id or not open_id or data.get("appId", self.appId) != self.appId:
            return {"isActive": False}
        owner = self.authService.findUser(Identity(WECHAT, self.appId, str(open_id)))
        return {"isActive": owner is not None and owner.userId == user_id}
