"""What the sandbox registers and issues: suites, apps, authorisations, tokens, codes, logs."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "AuthCode",
    "Authorization",
    "Fault",
    "IssuedToken",
    "LoginCode",
    "PreAuthCode",
    "Provider",
    "PushRecord",
    "RequestRecord",
    "SelfBuiltApp",
    "SnsRefreshToken",
    "SnsToken",
    "Suite",
    "SuiteKind",
    "SuiteTicket",
    "TokenKind",
    "UserTicket",
    "WeChatApp",
    "mask_secret",
]

SuiteKind = Literal["customized", "third_party"]
TokenKind = Literal["corp", "suite", "provider"]
CodeKind = Literal["corp", "suite", "wechat"]
FaultKind = Literal["errcode", "latency", "http_status", "drop"]


@dataclass
class Suite:
    """A third-party app or a 代开发 (customized) app template registered by a provider.

    `callback_url` receives the instruction callbacks (suite_ticket, auth events, and InfoType
    change_contact for third-party suites); `data_callback_url` receives a customized app's
    corp events (MsgType=event change_contact) and defaults to `callback_url`.
    """

    suite_id: str
    secret: str
    token: str
    encoding_aes_key: str
    callback_url: str | None = None
    data_callback_url: str | None = None
    kind: SuiteKind = "customized"
    provider_corp_id: str | None = None
    name: str = "沙盒应用"
    home_url: str | None = None
    # After August 2022 WeCom sends only UserID/Department in contact events to new callbacks.
    contact_ids_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the suite as the admin API shows it, secrets masked."""
        data = asdict(self)
        data["secret"] = mask_secret(self.secret)
        data["encoding_aes_key"] = mask_secret(self.encoding_aes_key)
        return data


@dataclass
class SelfBuiltApp:
    """A corp's own app (自建应用), or its contact-sync secret when `agent_id` is None."""

    corp_id: str
    agent_id: int | None
    secret: str
    name: str = "自建应用"
    allow_party: list[int] | None = None
    allow_user: list[str] = field(default_factory=list)
    home_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the app as the admin API shows it, the secret masked."""
        data = asdict(self)
        data["secret"] = mask_secret(self.secret)
        return data


@dataclass
class WeChatApp:
    """A website app on the WeChat Open Platform; apps under one `open_account` share unionIds."""

    appid: str
    secret: str
    open_account: str | None = None
    name: str = "网站应用"

    def to_dict(self) -> dict[str, Any]:
        """Return the app as the admin API shows it, the secret masked."""
        data = asdict(self)
        data["secret"] = mask_secret(self.secret)
        return data


@dataclass
class Provider:
    """A service provider (服务商): its corp id and provider secret."""

    corp_id: str
    secret: str
    name: str = "沙盒服务商"

    def to_dict(self) -> dict[str, Any]:
        """Return the provider as the admin API shows it, the secret masked."""
        return {"corp_id": self.corp_id, "secret": mask_secret(self.secret), "name": self.name}


@dataclass
class Authorization:
    """A corp's authorisation of a suite; `allow_party` None means the whole org is visible."""

    suite_id: str
    corp_id: str
    permanent_code: str
    agent_id: int
    allow_party: list[int] | None = None
    allow_user: list[str] = field(default_factory=list)
    active: bool = True
    created_at: float = 0.0
    admin_userid: str = ""
    state: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the authorisation as the admin API shows it, the permanent code masked."""
        data = asdict(self)
        data["permanent_code"] = mask_secret(self.permanent_code)
        return data


@dataclass
class IssuedToken:
    """An access token: a corp token, a suite_access_token or a provider_access_token.

    `app` names what the token acts for: ("agent", corp_id, agent_id) for a self-built app,
    ("auth", suite_id, corp_id) for an authorised suite, ("suite", suite_id) or
    ("provider", corp_id).
    """

    value: str
    kind: TokenKind
    app: tuple[Any, ...]
    expires_at: float
    corp_id: str = ""
    revoked: bool = False


@dataclass
class LoginCode:
    """A single-use login code handed to a redirect_uri; valid five minutes."""

    value: str
    kind: CodeKind
    app_id: str  # corp id (corp codes), suite id (suite codes) or WeChat appid
    userid: str  # WeCom userid, or the WeChat user's key (a non-member's key for non-member codes)
    corp_id: str = ""
    issued_at: float = 0.0
    with_ticket: bool = False
    scope: str = ""
    used: bool = False
    member: bool = True  # False: someone who is not a member scanned; exchanges answer an openid only


@dataclass
class UserTicket:
    """A user_ticket for getuserdetail / getuserdetail3rd."""

    value: str
    kind: Literal["corp", "suite"]
    app_id: str
    corp_id: str
    userid: str
    expires_at: float


@dataclass
class AuthCode:
    """A temporary authorisation code (AuthCode), single use, valid ten minutes."""

    value: str
    suite_id: str
    corp_id: str
    issued_at: float
    state: str = ""
    used: bool = False


@dataclass
class PreAuthCode:
    """A pre_auth_code for the install page; valid twenty minutes."""

    value: str
    suite_id: str
    issued_at: float
    session_info: dict[str, Any] = field(default_factory=dict)
    used: bool = False


@dataclass
class SuiteTicket:
    """A suite_ticket as pushed to the suite's callback URL."""

    value: str
    suite_id: str
    issued_at: float


@dataclass
class SnsToken:
    """A WeChat web-login access token bound to one app and one user."""

    value: str
    appid: str
    user_key: str
    scope: str
    expires_at: float


@dataclass
class SnsRefreshToken:
    """A WeChat refresh token (valid thirty days)."""

    value: str
    appid: str
    user_key: str
    scope: str
    expires_at: float


@dataclass
class Fault:
    """A fault injected into requests whose path matches `path` (an fnmatch pattern).

    `params`, when set, narrows it to requests carrying those query or JSON-body values (e.g.
    ``{"department_id": "4"}``: one department's member list). `remaining` None means every call;
    otherwise the fault is spent after that many calls.
    """

    path: str
    kind: FaultKind
    errcode: int = 0
    seconds: float = 0.0
    status: int = 503
    remaining: int | None = None
    hits: int = 0
    params: dict[str, str] | None = None

    def matches(self, path: str, params: Mapping[str, Any]) -> bool:
        """Return whether the fault applies to a request for `path` with these parameters."""
        if not fnmatch.fnmatchcase(path, self.path):
            return False
        return all(str(params.get(key)) == value for key, value in (self.params or {}).items())

    def to_dict(self) -> dict[str, Any]:
        """Return the fault as the admin API shows it."""
        return asdict(self)


@dataclass
class RequestRecord:
    """One API request the sandbox answered; secrets in it are masked."""

    time: float
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    errcode: int | None
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)


@dataclass
class PushRecord:
    """One attempt at delivering a callback push."""

    time: float
    url: str | None
    event: str
    attempt: int
    status: int | None
    answer: str | None
    ok: bool
    suite_id: str
    corp_id: str = ""
    error: str | None = None
    elapsed: float = 0.0
    plaintext: str = ""
    body: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)


def mask_secret(secret: str) -> str:
    """Return `secret` with all but its first and last two characters hidden."""
    if len(secret) <= 6:
        return "*" * len(secret)
    return f"{secret[:2]}{'*' * (len(secret) - 4)}{secret[-2:]}"
