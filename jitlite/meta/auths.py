"""``auths.loginTypes.Meta``: the base of every login Type, and the one login flow they share.

Every login Type turns a provider's one-time code into a system login code the same way, written
once here as a template (``LoginType.getLoginCode`` → ``login``)::

    requireActive()                          the login element is enabled
    checkLoginRequest(code, **context)       the arguments are well formed and bounded
    loginStates.consume(state, …)            the OAuth state is one this element issued, unused
    resolveIdentity(code, **context)         the Type's part: code → provider → Identity
    AuthService.ensureUser(identity)         the system user behind it (created on first login)
    recordLogin(user, identity)              the Type's own auth model row, if it keeps one
    AuthService.createLoginCode(…)           a one-time login code, with the user's corpList

A Type implements ``resolveIdentity`` (and, if it has them, the hooks); its public ``getLoginCode``
only names the arguments as its reference page does.

The browser round trip (``jitlite.web``'s ``/login/<authFullName>``) uses the same flow: the web
layer issues the state, sends the browser to ``buildLoginUrl(redirectUri, state, …)``, and on the
way back spends the state and calls ``login(code, **redirectContext(binding))``. What a Type offers
over HTTP is declared, never guessed: ``apiFunctions`` (JitAi's API allow-list), ``loginEntries``
(the buttons of the login page), ``webRoutes(app)`` (URLs of its own, such as callbacks) and
``callbackServiceName`` (the service whose callback inbox the admin page shows).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import BaseModel

from ..runtime.element import Element
from ..runtime.errors import AuthError, JitliteError, LoginInactive
from ..runtime.schema import masked_dump
from ..runtime.settings import register_setting
from .login_states import LoginStates
from .routes import PUBLIC, ApiFunction, ApiFunctions, Route

__all__ = [
    "ALLOW_REGISTRATION_SETTING",
    "AUTH_SERVICE",
    "MAX_CODE_LENGTH",
    "WECHAT",
    "WECOM",
    "Identity",
    "IdentityConflict",
    "IdentityNotBound",
    "LoginInactive",
    "LoginOutcome",
    "LoginType",
    "NotACorpMember",
    "RegistrationClosed",
    "UnknownUser",
    "callback_inboxes",
    "login_type_class",
    "sort_corps",
]

log = logging.getLogger("jitlite.auths")

AUTH_SERVICE = "auths.services.AuthService"
LOGIN_META = "auths.loginTypes.Meta"
WECOM = "wecom"
WECHAT = "wechat"
#: Provider codes are short (WeCom's and WeChat's are 32 to 64 characters); longer ones are refused unread.
MAX_CODE_LENGTH = 512
ALLOW_REGISTRATION_SETTING = "allowRegistration"

register_setting(ALLOW_REGISTRATION_SETTING, (bool,),
                 "let a first login through WeCom or WeChat create a new system user (default true)")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class IdentityConflict(AuthError):
    """The identity is bound to another user, or the user already has another one of that app."""


class IdentityNotBound(AuthError):
    """The user has no identity of that provider and app to unbind."""


class UnknownUser(AuthError):
    """No system user has this userId."""


class RegistrationClosed(AuthError):
    """No user is bound to the identity, and the app does not let first logins create users."""


class NotACorpMember(AuthError):
    """The WeCom code belongs to someone who is not a member of the corp (an openid only)."""


@dataclass(frozen=True)
class Identity:
    """Who a provider says the code belongs to: one account of one app, never a secret in its repr.

    ``provider`` is ``"wecom"`` or ``"wechat"``; ``appId`` the WeCom corp id or the WeChat AppID;
    ``externalId`` the WeCom userid (in that corp) or the WeChat openId (in that app); ``unionId``
    the WeChat unionId shared by the apps of one Open Platform account. ``profile`` holds the user
    fields the provider gave (``name``, ``mobile``, ``email``, ``avatar``); ``details`` the
    provider's own record (a WeCom member, a WeChat token answer and user info).
    """

    provider: str
    appId: str
    externalId: str
    unionId: str | None = None
    profile: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("provider", "appId", "externalId"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > 128:
                raise ValueError(f"an identity's {name} must be a non-empty string of at most 128 characters, "
                                 f"got {value!r}")
        if self.unionId is not None and (not isinstance(self.unionId, str) or not self.unionId
                                         or len(self.unionId) > 128):
            raise ValueError(f"an identity's unionId must be None or a non-empty string, got {self.unionId!r}")

    @property
    def corpId(self) -> str | None:
        """Return the WeCom corp id of a WeCom identity (None for other providers)."""
        return self.appId if self.provider == WECOM else None


@dataclass(frozen=True)
class LoginOutcome:
    """A finished login: the system user (a row of ``auths.models.UserModel``) and the identity."""

    user: Any
    identity: Identity

    @property
    def userId(self) -> str:
        """Return the system user's id."""
        return str(self.user.userId)


class LoginType(Element):
    """A login method: turns a WeCom or WeChat credential into a system login code."""

    #: The name of the Type's auth model child element, e.g. ``QywxProxyAuthModel``.
    authModelName: ClassVar[str] = ""
    #: True for Types whose logins give access to WeCom corps (they implement ``corpsOf``).
    servesCorps: ClassVar[bool] = False
    #: What JitAi's HTTP API may call on a login element: the login entries, open to anyone. Over
    #: HTTP the state is required, as it is what ties the provider's code to the browser.
    apiFunctions: ClassVar[ApiFunctions] = {
        "getLoginConfig": PUBLIC,
        "getLoginCode": ApiFunction("public", required=("state",)),
    }
    #: The ways the login page offers to log in through an element of this Type ("qr": to the
    #: provider's login page; "workbench", "ServiceApp", "orgCode": the WeCom entries).
    loginEntries: ClassVar[tuple[str, ...]] = ()
    #: The login page's words for the "qr" entry, in Chinese and English.
    loginLabel: ClassVar[tuple[str, str]] = ("扫码登录", "Scan to log in")
    #: The fullName of the service receiving this Type's callbacks (its inbox is on the admin page).
    callbackServiceName: ClassVar[str] = ""
    #: The fullName of the model keeping those callbacks' records (read without starting the service).
    callbackModelName: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Checked as the Type is imported, so App start-up and ``jitlite check`` name the mistake.
        if cls.callbackServiceName and not cls.callbackModelName:
            raise ValueError(f"{cls.__module__}.{cls.__qualname__} names a callbackServiceName but no "
                             "callbackModelName; set it to the fullName of the model its inbox stores records in")

    @classmethod
    def webRoutes(cls, app: Any) -> list[Route]:
        """Return the URLs this Type serves of its own (callbacks and the like); none by default."""
        return []

    @property
    def authType(self) -> str:
        """Return the fullName of the Type this login element is an instance of."""
        assert self.spec.type_spec is not None
        return self.spec.type_spec.full_name

    @property
    def authModelElemName(self) -> str:
        """Return the fullName of the model that stores this Type's identities."""
        assert self.spec.type_spec is not None
        return f"{self.spec.type_spec.full_name}.{self.authModelName}" if self.authModelName else ""

    @property
    def isActive(self) -> bool:
        """Tell whether this login method is enabled (``isActive`` in the config, default true)."""
        return bool(getattr(self.config, "isActive", True))

    @property
    def authConfig(self) -> dict[str, Any]:
        """Return the authentication settings with every secret masked."""
        section = getattr(self.config, "authConfig", None)
        if isinstance(section, BaseModel):
            return masked_dump(section)
        return {k: v for k, v in masked_dump(self.config).items() if k != "isActive"}

    @property
    def authService(self) -> Any:
        """Return ``auths.services.AuthService``: users, identities, login codes and sessions."""
        return self.getElement(AUTH_SERVICE)

    @property
    def allowsRegistration(self) -> bool:
        """Tell whether a first login may create a system user (settings ``allowRegistration``, default true)."""
        return bool(self.app.settings.get(ALLOW_REGISTRATION_SETTING, True))

    def requireActive(self) -> None:
        """Raise LoginInactive if this login method is disabled."""
        if not self.isActive:
            raise LoginInactive(f"login through {self.fullName} is disabled (isActive is false in its config); "
                                "set \"isActive\": true to enable it")

    # -- OAuth state ---------------------------------------------------------------------------

    @property
    def loginStates(self) -> LoginStates:
        """Return this login element's OAuth states (single use, expiring, bounded; in caches.Default)."""
        return LoginStates.of(self)

    def issueState(self, **binding: str | None) -> str:
        """Return a fresh single-use OAuth state bound to the given values (e.g. ``corpId``)."""
        return self.loginStates.issue(**binding)

    # -- the browser round trip ----------------------------------------------------------------

    def buildLoginUrl(self, redirectUri: str, state: str, *, corpId: str | None = None,
                      loginType: str | None = None) -> str:
        """Return the provider's login page URL that comes back to ``redirectUri`` with a code and ``state``."""
        raise NotImplementedError(f"{type(self).__qualname__} ({self.authType}) has no browser login")

    def redirectContext(self, binding: Mapping[str, Any]) -> dict[str, Any]:
        """Return the ``login`` arguments of a redirect, from what its state was issued with; none by default."""
        return {}

    # -- the login template --------------------------------------------------------------------

    def getLoginCode(self, code: str, state: str | None = None) -> dict[str, Any]:
        """Exchange a provider's code for a one-time login code: ``{loginCode, corpList, userId}``.

        When ``state`` is given it must be one this element issued and nobody used yet.
        """
        return self.loginCodeFor(self.login(code, state))

    def login(self, code: str, state: str | None = None, **context: Any) -> LoginOutcome:
        """Run the login flow up to the system user (see the module's docstring) and return it."""
        self.requireActive()
        self.checkLoginRequest(code, **context)
        if state is not None:
            self.loginStates.consume(state, **self.stateBinding(**context))
        identity = self.resolveIdentity(code, **context)
        user = self.authService.ensureUser(identity, register=self.allowsRegistration)
        self.recordLogin(user, identity)
        return LoginOutcome(user, identity)

    def loginCodeFor(self, outcome: LoginOutcome) -> dict[str, Any]:
        """Issue the one-time login code of a finished login: ``{loginCode, corpList, userId}``."""
        corp_list = self.corpList(outcome.userId, first=outcome.identity.corpId)
        login_code = self.authService.createLoginCode(outcome.userId, corp_list, self.authType)
        return {"loginCode": login_code, "corpList": corp_list, "userId": outcome.userId}

    # -- what a Type implements ----------------------------------------------------------------

    def checkLoginRequest(self, code: str, **context: Any) -> None:
        """Raise ValueError unless the login's arguments are well formed (Types add their own checks)."""
        if not isinstance(code, str) or not code.strip():
            raise ValueError("code is required: the code the provider's redirect carried")
        if len(code) > MAX_CODE_LENGTH:
            raise ValueError(f"code is longer than {MAX_CODE_LENGTH} characters; it is not a login code")

    def stateBinding(self, **context: Any) -> dict[str, str | None]:
        """Return the values a state must have been issued for (e.g. ``{"corpId": …}``); none by default."""
        return {}

    def resolveIdentity(self, code: str, **context: Any) -> Identity:
        """Exchange the provider's code and return whose account it is."""
        raise NotImplementedError(f"{type(self).__qualname__} ({self.authType}) does not implement resolveIdentity")

    def recordLogin(self, user: Any, identity: Identity) -> None:
        """Keep what the Type stores about a login (its auth model row); nothing by default."""

    # -- corps ---------------------------------------------------------------------------------

    def corpsOf(self, userId: str) -> list[dict[str, Any]]:
        """Return the corps this login element serves that the user belongs to: ``[{corpId, corpName}]``."""
        return []

    def corpList(self, userId: str, first: str | None = None) -> list[dict[str, Any]]:
        """Return the corps the user may enter after this login: those of every active WeCom login element."""
        corps: dict[str, dict[str, Any]] = {}
        for name in sorted(self.app.instancesOf(LOGIN_META)):
            if name == self.fullName or not self._serves_corps(name):
                continue
            try:
                element = self.getElement(name)
            except JitliteError as exc:  # one broken login element must not stop every other login
                log.warning("corpList of %s skips %s, which cannot be built: %s", self.fullName, name, exc)
                continue
            if isinstance(element, LoginType) and element.isActive:
                for corp in element.corpsOf(userId):
                    corps.setdefault(str(corp["corpId"]), corp)
        return sort_corps(list(corps.values()), first)

    def _serves_corps(self, name: str) -> bool:
        """Tell from its Type's class, without building it, whether a login element serves WeCom corps."""
        cls = login_type_class(self.app, name)
        return cls is not None and cls.servesCorps


def login_type_class(app: Any, name: str) -> type[LoginType] | None:
    """Return the class of a login element's Type (imported, not built); None if it is no LoginType."""
    type_spec = app.spec(name).type_spec
    found = None if type_spec is None else app.getElement(type_spec.full_name)
    return found if isinstance(found, type) and issubclass(found, LoginType) else None


def callback_inboxes(app: Any) -> dict[str, str]:
    """Return the callback service → record model fullNames of the app's login Types (nothing is built)."""
    inboxes: dict[str, str] = {}
    for name in sorted(app.instancesOf(LOGIN_META)):
        cls = login_type_class(app, name)
        if cls is not None and cls.callbackServiceName:  # a model name too: LoginType's subclass check
            inboxes.setdefault(cls.callbackServiceName, cls.callbackModelName)
    return inboxes


def sort_corps(corps: list[dict[str, Any]], first: str | None) -> list[dict[str, Any]]:
    """Return corps ordered by corpId, the one the user logged in through first."""
    return sorted(corps, key=lambda c: (c["corpId"] != first, c["corpId"]))
