"""The sandbox's whole world in memory: org, registrations, tokens, codes, faults and logs.

Every read and write happens under `SandboxState.lock`; callback pushes are built under the lock
and delivered after it is released, so a receiver may call straight back into the sandbox.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import httpx

from jitlite.runtime import clock as runtime_clock
from jitlite.sandbox import defaults
from jitlite.sandbox.callbacks import (
    Push,
    Pusher,
    TicketThread,
    contact_event_xml,
    contact_info_xml,
    department_fields,
    info_xml,
    member_fields,
)
from jitlite.sandbox.clock import Clock
from jitlite.sandbox.errors import ApiError, SandboxError
from jitlite.sandbox.models import (
    AuthCode,
    Authorization,
    Fault,
    IssuedToken,
    LoginCode,
    PreAuthCode,
    Provider,
    PushRecord,
    RequestRecord,
    SelfBuiltApp,
    SnsRefreshToken,
    SnsToken,
    Suite,
    SuiteKind,
    SuiteTicket,
    TokenKind,
    UserTicket,
    WeChatApp,
)
from jitlite.sandbox.orgdata import Corp, Department, Member, Org, WeChatUser, load_org

__all__ = ["CorpView", "SandboxState"]

LOGIN_CODE_TTL = 300
AUTH_CODE_TTL = 600
PRE_AUTH_CODE_TTL = 1200
SUITE_TICKET_TTL = 1800
TOKEN_TTL = 7200
USER_TICKET_TTL = 1800
SNS_REFRESH_TTL = 30 * 86400
# Expired tokens are kept this long so a late call gets "expired" (42001), not "invalid" (40014).
_EXPIRED_TOKEN_MEMORY = 86400

_MISSING_TOKEN = {"corp": 41001, "suite": 41022, "provider": 41001}
_INVALID_TOKEN = {"corp": 40014, "suite": 40082, "provider": 40082}
_EXPIRED_TOKEN = {"corp": 42001, "suite": 42009, "provider": 42001}

_UNSET: Any = object()


def _random(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


@dataclass(frozen=True)
class CorpView:
    """What one corp token may see: the corp, its visible departments and how ids are shown."""

    corp: Corp
    scope: frozenset[int] | None
    allow_user: tuple[str, ...]
    third_party: bool  # a third-party suite: open_userid in lists, sensitive fields hidden
    open_id_owner: str | None  # whose open_userid (provider or suite); None for a self-built app

    def sees_member(self, member: Member) -> bool:
        """Return whether the token may read `member`."""
        return self.corp.member_in_scope(member, self.scope, self.allow_user)

    def sees_department(self, dept_id: int) -> bool:
        """Return whether the token may read department `dept_id`."""
        return self.scope is None or dept_id in self.scope


class SandboxState:
    """The emulated WeCom and WeChat world, with a Python API for everything the admin API does."""

    def __init__(
        self,
        org: Org | None = None,
        *,
        clock: Clock | None = None,
        ticket_interval: float = 600.0,
        push_timeout: float = 1.0,
        push_retries: int = 3,
        push_backoff: float = 1.0,
        push_transport: httpx.BaseTransport | None = None,
        envelope_time: Callable[[], float] | None = None,
        log_size: int = 10_000,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.org = org or Org()
        self.suites: dict[str, Suite] = {}
        self.apps: dict[tuple[str, int | None], SelfBuiltApp] = {}
        self.wechat_apps: dict[str, WeChatApp] = {}
        self.providers: dict[str, Provider] = {}
        self.authorizations: dict[tuple[str, str], Authorization] = {}
        self.ticket_interval = ticket_interval
        self.pusher = Pusher(self._record_push, self.clock.now, timeout=push_timeout,
                             retries=push_retries, backoff=push_backoff, transport=push_transport,
                             envelope_time=envelope_time or runtime_clock.now)
        self._tokens: dict[str, IssuedToken] = {}
        self._current_tokens: dict[tuple[Any, ...], str] = {}
        self._login_codes: dict[str, LoginCode] = {}
        self._user_tickets: dict[str, UserTicket] = {}
        self._auth_codes: dict[str, AuthCode] = {}
        self._pre_auth_codes: dict[str, PreAuthCode] = {}
        self._suite_tickets: dict[str, list[SuiteTicket]] = {}
        self._sns_tokens: dict[str, SnsToken] = {}
        self._sns_refresh: dict[str, SnsRefreshToken] = {}
        self._faults: list[Fault] = []
        self._requests: deque[RequestRecord] = deque(maxlen=log_size)
        self._pushes: deque[PushRecord] = deque(maxlen=log_size)
        self._secret = secrets.token_bytes(32)
        self._next_agent_id = 1000100
        self._issued = 0
        self._ticket_thread: TicketThread | None = None

    @classmethod
    def with_defaults(cls, org: Org | Mapping[str, Any] | None = None, **options: Any) -> SandboxState:
        """Return a state holding `org` (the default org if None) and the default registrations."""
        if not isinstance(org, Org):
            org = load_org(defaults.DEFAULT_ORG if org is None else org)
        state = cls(org, **options)
        state.register_provider(defaults.DEFAULT_PROVIDER_CORP_ID, defaults.DEFAULT_PROVIDER_SECRET)
        state.register_suite(defaults.DEFAULT_SUITE_ID, defaults.DEFAULT_SUITE_SECRET,
                             defaults.DEFAULT_SUITE_TOKEN, defaults.DEFAULT_ENCODING_AES_KEY,
                             provider_corp_id=defaults.DEFAULT_PROVIDER_CORP_ID, kind="customized")
        if defaults.DEFAULT_CORP_ID in state.org.corps:
            state.register_app(defaults.DEFAULT_CORP_ID, defaults.DEFAULT_AGENT_ID,
                               defaults.DEFAULT_AGENT_SECRET)
        state.register_wechat_app(defaults.DEFAULT_WECHAT_APPID, defaults.DEFAULT_WECHAT_SECRET,
                                  open_account=defaults.DEFAULT_OPEN_ACCOUNT)
        return state

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SandboxState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cut short any push waiting to retry, then stop the ticket thread."""
        # The pusher first: a ticket push mid-retry would otherwise hold up the thread's join.
        self.pusher.close()
        self.stop_ticket_thread()

    @property
    def push_transport(self) -> httpx.BaseTransport | None:
        """Return the httpx transport pushes go through (None: the network)."""
        return self.pusher.transport

    @push_transport.setter
    def push_transport(self, transport: httpx.BaseTransport | None) -> None:
        self.pusher.transport = transport

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward and return the new time."""
        return self.clock.advance(seconds)

    # -- registrations -----------------------------------------------------------------------

    def register_suite(self, suite_id: str, secret: str, token: str, encoding_aes_key: str,
                       callback_url: str | None = None, *, data_callback_url: str | None = None,
                       kind: SuiteKind = "customized", provider_corp_id: str | None = None,
                       name: str = "沙盒应用", home_url: str | None = None,
                       contact_ids_only: bool = False) -> Suite:
        """Register (or replace) a suite: a third-party app or a 代开发 template."""
        if kind not in ("customized", "third_party"):
            raise SandboxError(f"suite kind must be 'customized' or 'third_party', got {kind!r}")
        if len(encoding_aes_key) != 43:
            raise SandboxError("EncodingAESKey must be 43 characters")
        for url in (callback_url, data_callback_url, home_url):
            _check_http_url(url)
        suite = Suite(suite_id, secret, token, encoding_aes_key, callback_url, data_callback_url, kind,
                      provider_corp_id, name, home_url, contact_ids_only)
        with self.lock:
            self.suites[suite_id] = suite
        return suite

    def update_suite(self, suite_id: str, **changes: Any) -> Suite:
        """Change a registered suite's fields (callback_url, kind, ...)."""
        with self.lock:
            suite = self.suite(suite_id)
            allowed = {f.name for f in fields(Suite)} - {"suite_id"}
            unknown = set(changes) - allowed
            if unknown:
                raise SandboxError(f"unknown suite fields {sorted(unknown)}")
            for key in ("callback_url", "data_callback_url", "home_url"):
                _check_http_url(changes.get(key))
            updated = replace(suite, **changes)
            self.suites[suite_id] = updated
            return updated

    def register_app(self, corp_id: str, agent_id: int | None, secret: str, *, name: str = "自建应用",
                     allow_party: Sequence[int] | None = None, allow_user: Sequence[str] = (),
                     home_url: str | None = None) -> SelfBuiltApp:
        """Register a corp's self-built app (agent_id None: its contact-sync secret)."""
        _check_http_url(home_url)
        app = SelfBuiltApp(corp_id, agent_id, secret, name,
                           None if allow_party is None else list(allow_party), list(allow_user), home_url)
        with self.lock:
            self.corp(corp_id)
            self.apps[(corp_id, agent_id)] = app
        return app

    def register_wechat_app(self, appid: str, secret: str, *, open_account: str | None = None,
                            name: str = "网站应用") -> WeChatApp:
        """Register a WeChat website app; apps sharing `open_account` share unionIds."""
        app = WeChatApp(appid, secret, open_account, name)
        with self.lock:
            self.wechat_apps[appid] = app
        return app

    def register_provider(self, corp_id: str, secret: str, *, name: str = "沙盒服务商") -> Provider:
        """Register a service provider and its provider secret."""
        provider = Provider(corp_id, secret, name)
        with self.lock:
            self.providers[corp_id] = provider
        return provider

    def add_corp(self, corp: Corp | Mapping[str, Any]) -> Corp:
        """Add a corp, given as a Corp or as an org-file corp entry."""
        built = corp if isinstance(corp, Corp) else Corp.from_dict(corp)
        with self.lock:
            if built.corp_id in self.org.corps:
                raise SandboxError(f"corp {built.corp_id} already exists")
            self.org.corps[built.corp_id] = built
        return built

    def add_wechat_user(self, user: WeChatUser | Mapping[str, Any]) -> WeChatUser:
        """Add a person with a WeChat account."""
        built = user if isinstance(user, WeChatUser) else WeChatUser(**dict(user))
        with self.lock:
            self.org.wechat_users[built.key] = built
        return built

    def suite(self, suite_id: str) -> Suite:
        """Return a registered suite."""
        try:
            return self.suites[suite_id]
        except KeyError:
            raise SandboxError(f"no suite {suite_id!r} is registered") from None

    def corp(self, corp_id: str) -> Corp:
        """Return a corp of the org."""
        try:
            return self.org.corps[corp_id]
        except KeyError:
            raise SandboxError(f"the org has no corp {corp_id!r}") from None

    # -- ids -----------------------------------------------------------------------------------

    @staticmethod
    def open_userid(owner: str, corp_id: str, userid: str) -> str:
        """Return the open_userid of a member as seen by `owner` (a provider or suite id)."""
        return "wo" + _digest("open_userid", owner, corp_id, userid).hex()[:30]

    @staticmethod
    def openid(appid: str, user_key: str) -> str:
        """Return a WeChat user's openId in one app (different in every app)."""
        raw = base64.urlsafe_b64encode(_digest("openid", appid, user_key)).decode("ascii")
        return "o" + raw[:27]

    @staticmethod
    def unionid(open_account: str, user_key: str) -> str:
        """Return a WeChat user's unionId under one open-platform account."""
        raw = base64.urlsafe_b64encode(_digest("unionid", open_account, user_key)).decode("ascii")
        return "o" + raw[:28]

    def open_id_owner(self, suite: Suite) -> str:
        """Return whose open_userids a suite sees: its provider's, or its own without one."""
        return suite.provider_corp_id or suite.suite_id

    # -- tokens --------------------------------------------------------------------------------

    def issue_token(self, kind: TokenKind, app: tuple[Any, ...], corp_id: str = "") -> IssuedToken:
        """Return the token for `app`, reusing the current one while it is valid, as WeCom does."""
        with self.lock:
            now = self.clock.now()
            key = (kind, *app)
            current = self._tokens.get(self._current_tokens.get(key, ""))
            if current is not None and not current.revoked and current.expires_at > now:
                return current
            self._issued += 1
            if self._issued % 256 == 0:
                self._forget_expired(now)
            token = IssuedToken(_random(48), kind, app, now + TOKEN_TTL, corp_id)
            self._tokens[token.value] = token
            self._current_tokens[key] = token.value
            return token

    def check_token(self, value: str | None, kind: TokenKind) -> IssuedToken:
        """Return the valid token `value` of `kind`, or raise the errcode WeCom answers with."""
        if not value:
            raise ApiError(_MISSING_TOKEN[kind])
        with self.lock:
            token = self._tokens.get(value)
            if token is None or token.kind != kind or token.revoked or not self._token_app_alive(token):
                raise ApiError(_INVALID_TOKEN[kind])
            if token.expires_at <= self.clock.now():
                raise ApiError(_EXPIRED_TOKEN[kind])
            return token

    def expires_in(self, token: IssuedToken) -> int:
        """Return the whole seconds `token` has left."""
        return self.expires_in_of(token.expires_at)

    def expires_in_of(self, expires_at: float) -> int:
        """Return the whole seconds left until `expires_at`."""
        return max(0, int(expires_at - self.clock.now()))

    def revoke_tokens(self, kind: TokenKind | None = None, corp_id: str | None = None) -> int:
        """Invalidate matching tokens (their next use answers 40014/40082); return how many."""
        count = 0
        with self.lock:
            for token in self._tokens.values():
                if token.revoked or (kind is not None and token.kind != kind):
                    continue
                if corp_id is None or token.corp_id == corp_id:
                    token.revoked = True
                    count += 1
        return count

    def corp_view(self, token: IssuedToken) -> CorpView:
        """Return what a corp token may see."""
        with self.lock:
            corp = self.org.corps.get(token.corp_id)
            if corp is None:
                raise ApiError(40014, "the corp no longer exists")
            if token.app[0] == "agent":
                app = self.apps[(token.app[1], token.app[2])]
                return CorpView(corp, corp.scope(app.allow_party), tuple(app.allow_user), False, None)
            suite = self.suites[token.app[1]]
            auth = self.authorizations[(token.app[1], token.app[2])]
            third_party = suite.kind == "third_party"
            return CorpView(corp, corp.scope(auth.allow_party), tuple(auth.allow_user), third_party,
                            self.open_id_owner(suite) if third_party else None)

    def _token_app_alive(self, token: IssuedToken) -> bool:
        app = token.app
        if app[0] == "agent":
            return (app[1], app[2]) in self.apps
        if app[0] == "auth":
            auth = self.authorizations.get((app[1], app[2]))
            return auth is not None and auth.active
        if app[0] == "suite":
            return app[1] in self.suites
        return app[1] in self.providers

    def _forget_expired(self, now: float) -> None:
        cutoff = now - _EXPIRED_TOKEN_MEMORY
        for value in [v for v, t in self._tokens.items() if t.expires_at < cutoff]:
            del self._tokens[value]
        for value in [v for v, c in self._login_codes.items() if c.issued_at < cutoff]:
            del self._login_codes[value]
        for value in [v for v, t in self._user_tickets.items() if t.expires_at < cutoff]:
            del self._user_tickets[value]

    # -- login codes and user tickets --------------------------------------------------------

    def issue_corp_code(self, corp_id: str, userid: str, *, agent_id: int | None = None,
                        suite_id: str | None = None, with_ticket: bool = False) -> str:
        """Return a code for `auth/getuserinfo` with a corp token, as CorpApp login or the workbench gives.

        Name the app the user logs in to (`agent_id` of a self-built app or `suite_id` of an
        authorised 代开发 suite) to check the user is in its visible range.
        """
        with self.lock:
            corp = self.corp(corp_id)
            member = self._visible_member(corp, userid, agent_id=agent_id, suite_id=suite_id)
            return self._new_code(LoginCode(_random(), "corp", corp_id, member.userid, corp_id,
                                            self.clock.now(), with_ticket,
                                            "snsapi_privateinfo" if with_ticket else "snsapi_base"))

    def issue_suite_code(self, suite_id: str, corp_id: str, userid: str, *,
                         with_ticket: bool = False) -> str:
        """Return a code for `getuserinfo3rd` / `get_login_info`, as ServiceApp login gives."""
        with self.lock:
            corp = self.corp(corp_id)
            member = self._visible_member(corp, userid, suite_id=suite_id)
            return self._new_code(LoginCode(_random(), "suite", suite_id, member.userid, corp_id,
                                            self.clock.now(), with_ticket,
                                            "snsapi_privateinfo" if with_ticket else "snsapi_base"))

    def issue_nonmember_code(self, corp_id: str | None, person: str, *, suite_id: str | None = None) -> str:
        """Return a code scanned by someone who is not a member (a WeChat user, an outsider).

        With `suite_id` it is a ServiceApp code for `service/auth/getuserinfo3rd`, else a CorpApp
        code of `corp_id` for `auth/getuserinfo`; either exchange answers an openid and no userid.
        """
        if not person:
            raise SandboxError("name the person who scanned (any text)")
        with self.lock:
            if suite_id is not None:
                self.suite(suite_id)
                return self._new_code(LoginCode(_random(), "suite", suite_id, person, corp_id or "",
                                                self.clock.now(), member=False))
            if corp_id is None:
                raise SandboxError("give the corp (CorpApp) or the suite (ServiceApp) of the login")
            corp = self.corp(corp_id)
            if person in corp.members:
                raise SandboxError(f"{person!r} is a member of {corp_id}; use issue_corp_code")
            return self._new_code(LoginCode(_random(), "corp", corp_id, person, corp_id, self.clock.now(),
                                            member=False))

    def issue_wechat_code(self, appid: str, user_key: str, *, scope: str = "snsapi_login") -> str:
        """Return a code for `/sns/oauth2/access_token`, as the WeChat QR login gives."""
        with self.lock:
            if appid not in self.wechat_apps:
                raise SandboxError(f"no WeChat app {appid!r} is registered")
            if user_key not in self.org.wechat_users:
                raise SandboxError(f"no WeChat user {user_key!r}")
            return self._new_code(LoginCode(_random(), "wechat", appid, user_key, "",
                                            self.clock.now(), False, scope))

    def take_login_code(self, value: str | None, kind: Literal["corp", "suite", "wechat"],
                        matches: Callable[[LoginCode], bool]) -> LoginCode:
        """Consume a login code, or raise 41008 (missing), 40029 (invalid/expired) or 40163 (used)."""
        if not value:
            raise ApiError(41008)
        with self.lock:
            code = self._login_codes.get(value)
            if code is None or code.kind != kind or not matches(code):
                raise ApiError(40029)
            if code.used:
                # WeChat tells a reused code apart; WeCom answers "invalid code" for both.
                raise ApiError(40163 if kind == "wechat" else 40029)
            if code.issued_at + LOGIN_CODE_TTL <= self.clock.now():
                raise ApiError(40029, "code expired")
            code.used = True
            return code

    def issue_user_ticket(self, kind: Literal["corp", "suite"], app_id: str, corp_id: str,
                          userid: str) -> UserTicket:
        """Return a user_ticket for getuserdetail (corp) or getuserdetail3rd (suite)."""
        with self.lock:
            ticket = UserTicket(_random(), kind, app_id, corp_id, userid,
                                self.clock.now() + USER_TICKET_TTL)
            self._user_tickets[ticket.value] = ticket
            return ticket

    def check_user_ticket(self, value: str | None, kind: Literal["corp", "suite"],
                          app_id: str) -> UserTicket:
        """Return a valid user_ticket, or raise 40058 (missing) or 40029 (invalid/expired)."""
        if not value:
            raise ApiError(40058, "user_ticket missing")
        with self.lock:
            ticket = self._user_tickets.get(value)
            if ticket is None or ticket.kind != kind or ticket.app_id != app_id:
                raise ApiError(40029, "invalid user_ticket")
            if ticket.expires_at <= self.clock.now():
                raise ApiError(40029, "user_ticket expired")
            return ticket

    def _new_code(self, code: LoginCode) -> str:
        self._login_codes[code.value] = code
        return code.value

    def _visible_member(self, corp: Corp, userid: str, *, agent_id: int | None = None,
                        suite_id: str | None = None) -> Member:
        member = corp.members.get(userid)
        if member is None:
            raise SandboxError(f"corp {corp.corp_id} has no member {userid!r}")
        if suite_id is not None:
            auth = self.authorizations.get((suite_id, corp.corp_id))
            if auth is None or not auth.active:
                raise SandboxError(f"corp {corp.corp_id} has not authorised suite {suite_id}")
            scope, allow_user = corp.scope(auth.allow_party), auth.allow_user
        elif agent_id is not None:
            app = self.apps.get((corp.corp_id, agent_id))
            if app is None:
                raise SandboxError(f"corp {corp.corp_id} has no self-built app {agent_id}")
            scope, allow_user = corp.scope(app.allow_party), app.allow_user
        else:
            return member
        if not corp.member_in_scope(member, scope, allow_user):
            raise SandboxError(f"{userid} is outside the app's visible range in {corp.corp_id}")
        return member

    # -- WeChat tokens ---------------------------------------------------------------------------

    def issue_sns_tokens(self, appid: str, user_key: str, scope: str,
                         refresh: SnsRefreshToken | None = None) -> tuple[SnsToken, SnsRefreshToken]:
        """Return a fresh WeChat access token and the (new or given) refresh token."""
        with self.lock:
            now = self.clock.now()
            token = SnsToken(_random(48), appid, user_key, scope, now + TOKEN_TTL)
            self._sns_tokens[token.value] = token
            if refresh is None:
                refresh = SnsRefreshToken(_random(48), appid, user_key, scope, now + SNS_REFRESH_TTL)
                self._sns_refresh[refresh.value] = refresh
            return token, refresh

    def check_sns_token(self, value: str | None) -> SnsToken:
        """Return a valid WeChat access token, or raise 41001, 40001 or 42001."""
        if not value:
            raise ApiError(41001)
        with self.lock:
            token = self._sns_tokens.get(value)
            if token is None:
                raise ApiError(40001, "access_token is invalid or not latest")
            if token.expires_at <= self.clock.now():
                raise ApiError(42001)
            return token

    def check_sns_refresh(self, value: str | None, appid: str) -> SnsRefreshToken:
        """Return a valid refresh token of `appid`, or raise 41003, 40030 or 42002."""
        if not value:
            raise ApiError(41003)
        with self.lock:
            refresh = self._sns_refresh.get(value)
            if refresh is None or refresh.appid != appid:
                raise ApiError(40030)
            if refresh.expires_at <= self.clock.now():
                raise ApiError(42002)
            return refresh

    # -- suite tickets ---------------------------------------------------------------------------

    def issue_suite_ticket(self, suite_id: str) -> SuiteTicket:
        """Make a new suite_ticket the newest for `suite_id` (without pushing it)."""
        with self.lock:
            self.suite(suite_id)
            ticket = SuiteTicket(_random(), suite_id, self.clock.now())
            history = self._suite_tickets.setdefault(suite_id, [])
            history.append(ticket)
            del history[:-16]  # older ones have long expired
            return ticket

    def latest_suite_ticket(self, suite_id: str) -> SuiteTicket | None:
        """Return the newest suite_ticket issued for `suite_id`."""
        with self.lock:
            history = self._suite_tickets.get(suite_id)
            return history[-1] if history else None

    def check_suite_ticket(self, suite_id: str, value: str) -> None:
        """Accept the newest ticket, or one issued under 30 minutes ago; else raise 40085."""
        with self.lock:
            history = self._suite_tickets.get(suite_id, [])
            if history and history[-1].value == value:
                return
            now = self.clock.now()
            for ticket in history:
                if ticket.value == value and ticket.issued_at + SUITE_TICKET_TTL > now:
                    return
            raise ApiError(40085)

    def push_suite_ticket(self, suite_id: str | None = None,
                          cancel: threading.Event | None = None) -> list[SuiteTicket]:
        """Issue and push a new suite_ticket to one suite, or to every suite with a callback URL."""
        with self.lock:
            if suite_id is not None:
                targets = [self.suite(suite_id)]
            else:
                targets = [s for s in self.suites.values() if s.callback_url]
            planned = []
            for suite in targets:
                ticket = self.issue_suite_ticket(suite.suite_id)
                xml = info_xml(suite.suite_id, "suite_ticket", int(ticket.issued_at),
                               [("SuiteTicket", ticket.value)])
                planned.append((ticket, self._suite_push(suite, "suite_ticket", xml)))
        for _, push in planned:
            self.pusher.deliver(push, cancel)
        return [ticket for ticket, _ in planned]

    def start_ticket_thread(self, interval: float | None = None) -> None:
        """Push suite tickets now and then every `interval` seconds (default: ticket_interval)."""
        with self.lock:
            if self._ticket_thread is not None and self._ticket_thread.alive:
                return
            thread = TicketThread(lambda stop: self.push_suite_ticket(cancel=stop),
                                  interval or self.ticket_interval)
            self._ticket_thread = thread
        thread.start()

    def stop_ticket_thread(self) -> None:
        """Stop the ticket thread and wait for it to end."""
        with self.lock:
            thread, self._ticket_thread = self._ticket_thread, None
        if thread is not None:
            thread.stop()

    @property
    def ticket_thread_running(self) -> bool:
        """Return whether the background ticket thread is running."""
        thread = self._ticket_thread
        return thread is not None and thread.alive

    # -- authorisation ---------------------------------------------------------------------------

    def authorize(self, suite_id: str, corp_id: str, *, allow_party: Sequence[int] | None = None,
                  allow_user: Sequence[str] = (), state: str = "", admin_userid: str | None = None,
                  push: bool = True) -> AuthCode:
        """Authorise a suite in a corp, as an admin installing it would, and push create_auth.

        Returns the AuthCode (valid ten minutes, single use) that get_permanent_code exchanges.
        """
        with self.lock:
            suite = self.suite(suite_id)
            corp = self.corp(corp_id)
            existing = self.authorizations.get((suite_id, corp_id))
            if existing is not None and existing.active:
                raise SandboxError(f"corp {corp_id} has already authorised suite {suite_id}; "
                                   "use change_auth to change the scope")
            self._check_scope(corp, allow_party, allow_user)
            admin = admin_userid or _default_admin(corp)
            auth = Authorization(suite_id, corp_id, _random(), self._allocate_agent_id(),
                                 None if allow_party is None else list(allow_party), list(allow_user),
                                 True, self.clock.now(), admin, state)
            self.authorizations[(suite_id, corp_id)] = auth
            code = self._new_auth_code(suite_id, corp_id, state)
            xml = info_xml(suite_id, "create_auth", self.clock.timestamp(),
                           [("AuthCode", code.value), ("State", state), ("ExtraInfo", "")])
            planned = self._suite_push(suite, "create_auth", xml, corp_id)
        if push:
            self.pusher.deliver(planned)
        return code

    def change_auth(self, suite_id: str, corp_id: str, *, allow_party: Sequence[int] | None = _UNSET,
                    allow_user: Sequence[str] = _UNSET, push: bool = True) -> Authorization:
        """Change what an authorisation may see and push change_auth."""
        with self.lock:
            auth = self._active_auth(suite_id, corp_id)
            corp = self.corp(corp_id)
            if allow_party is not _UNSET:
                self._check_scope(corp, allow_party, ())
                auth.allow_party = None if allow_party is None else list(allow_party)
            if allow_user is not _UNSET:
                self._check_scope(corp, None, allow_user)
                auth.allow_user = list(allow_user)
            xml = info_xml(suite_id, "change_auth", self.clock.timestamp(),
                           [("AuthCorpId", corp_id), ("State", auth.state), ("ExtraInfo", "")])
            planned = self._suite_push(self.suite(suite_id), "change_auth", xml, corp_id)
        if push:
            self.pusher.deliver(planned)
        return auth

    def cancel_auth(self, suite_id: str, corp_id: str, *, push: bool = True) -> Authorization:
        """Withdraw an authorisation (its permanent code and tokens stop working) and push cancel_auth."""
        with self.lock:
            auth = self._active_auth(suite_id, corp_id)
            auth.active = False
            xml = info_xml(suite_id, "cancel_auth", self.clock.timestamp(), [("AuthCorpId", corp_id)])
            planned = self._suite_push(self.suite(suite_id), "cancel_auth", xml, corp_id)
        if push:
            self.pusher.deliver(planned)
        return auth

    def reset_permanent_code(self, suite_id: str, corp_id: str, *, push: bool = True) -> AuthCode:
        """Replace a 代开发 authorisation's permanent code and push reset_permanent_code.

        The old permanent code stops working at once; the pushed AuthCode yields the new one.
        """
        with self.lock:
            auth = self._active_auth(suite_id, corp_id)
            auth.permanent_code = _random()
            code = self._new_auth_code(suite_id, corp_id, auth.state)
            xml = info_xml(suite_id, "reset_permanent_code", self.clock.timestamp(),
                           [("AuthCode", code.value)])
            planned = self._suite_push(self.suite(suite_id), "reset_permanent_code", xml, corp_id)
        if push:
            self.pusher.deliver(planned)
        return code

    def authorization(self, suite_id: str, corp_id: str) -> Authorization | None:
        """Return the authorisation of `suite_id` by `corp_id`, active or not."""
        with self.lock:
            return self.authorizations.get((suite_id, corp_id))

    def take_auth_code(self, value: str | None, suite_id: str) -> Authorization:
        """Consume an AuthCode for `suite_id` and return its authorisation, or raise 41008/40029."""
        if not value:
            raise ApiError(41008)
        with self.lock:
            code = self._auth_codes.get(value)
            if code is None or code.suite_id != suite_id or code.used:
                raise ApiError(40029)
            if code.issued_at + AUTH_CODE_TTL <= self.clock.now():
                raise ApiError(40029, "auth_code expired")
            auth = self.authorizations.get((suite_id, code.corp_id))
            if auth is None or not auth.active:
                raise ApiError(40029, "the authorisation was cancelled")
            code.used = True
            return auth

    def find_authorization(self, suite_id: str, corp_id: str | None,
                           permanent_code: str | None) -> Authorization:
        """Return the active authorisation a (corp id, permanent code) pair names, or raise 40084."""
        if not corp_id:
            raise ApiError(41002)
        if not permanent_code:
            raise ApiError(41025)
        with self.lock:
            auth = self.authorizations.get((suite_id, corp_id))
            if (auth is None or not auth.active
                    or not hmac.compare_digest(auth.permanent_code, permanent_code)):
                raise ApiError(40084)
            return auth

    def issue_pre_auth_code(self, suite_id: str) -> PreAuthCode:
        """Return a pre_auth_code for the install page."""
        with self.lock:
            code = PreAuthCode(_random(), suite_id, self.clock.now())
            self._pre_auth_codes[code.value] = code
            return code

    def check_pre_auth_code(self, value: str | None, suite_id: str | None = None) -> PreAuthCode:
        """Return a usable pre_auth_code, or raise 40077 (invalid or used) or 42007 (expired)."""
        with self.lock:
            code = self._pre_auth_codes.get(value or "")
            if code is None or code.used or (suite_id is not None and code.suite_id != suite_id):
                raise ApiError(40077)
            if code.issued_at + PRE_AUTH_CODE_TTL <= self.clock.now():
                raise ApiError(42007)
            return code

    def install(self, pre_auth_code: str, corp_id: str, *,
                admin_userid: str | None = None) -> AuthCode:
        """Authorise through the install page (no create_auth push, as WeCom does for that flow)."""
        with self.lock:
            code = self.check_pre_auth_code(pre_auth_code)
            auth_code = self.authorize(code.suite_id, corp_id, admin_userid=admin_userid, push=False)
            code.used = True
            return auth_code

    def _new_auth_code(self, suite_id: str, corp_id: str, state: str) -> AuthCode:
        code = AuthCode(_random(48), suite_id, corp_id, self.clock.now(), state)
        self._auth_codes[code.value] = code
        return code

    def _active_auth(self, suite_id: str, corp_id: str) -> Authorization:
        auth = self.authorizations.get((suite_id, corp_id))
        if auth is None or not auth.active:
            raise SandboxError(f"corp {corp_id} has no active authorisation of suite {suite_id}")
        return auth

    def _allocate_agent_id(self) -> int:
        self._next_agent_id += 1
        return self._next_agent_id

    @staticmethod
    def _check_scope(corp: Corp, allow_party: Sequence[int] | None, allow_user: Sequence[str]) -> None:
        for dept_id in allow_party or ():
            if dept_id not in corp.departments:
                raise SandboxError(f"corp {corp.corp_id} has no department {dept_id}")
        for userid in allow_user:
            if userid not in corp.members:
                raise SandboxError(f"corp {corp.corp_id} has no member {userid!r}")

    # -- org edits (each pushes change_contact to the suites that can see the change) -----------

    def add_member(self, corp_id: str, member: Member | Mapping[str, Any]) -> Member:
        """Add a member and push create_user."""
        with self.lock:
            corp = self.corp(corp_id)
            built = member if isinstance(member, Member) else _member_from(member)
            corp.add_member(built)
            pushes = [self._contact_push(auth, corp, "create_user", self._user_fields(auth, corp, built))
                      for auth in self._auths_seeing(corp, member=built)]
        self._deliver_all(pushes)
        return built

    def update_member(self, corp_id: str, userid: str, **changes: Any) -> Member:
        """Change a member and push update_user with the fields that changed."""
        with self.lock:
            corp = self.corp(corp_id)
            old = corp.get_member(userid)
            before = self._auths_seeing(corp, member=old)
            new = corp.update_member(userid, **changes)
            changed = {f.name for f in fields(Member) if getattr(old, f.name) != getattr(new, f.name)}
            pushes = []
            if changed:
                for auth in _merge(before, self._auths_seeing(corp, member=new)):
                    pushes.append(self._contact_push(
                        auth, corp, "update_user", self._user_fields(auth, corp, new, changed=changed)))
        self._deliver_all(pushes)
        return new

    def delete_member(self, corp_id: str, userid: str) -> Member:
        """Remove a member and push delete_user."""
        with self.lock:
            corp = self.corp(corp_id)
            old = corp.get_member(userid)
            seeing = self._auths_seeing(corp, member=old)
            corp.delete_member(userid)
            pushes = [self._contact_push(auth, corp, "delete_user",
                                         self._user_fields(auth, corp, old, deleted=True))
                      for auth in seeing]
        self._deliver_all(pushes)
        return old

    def add_department(self, corp_id: str, dept: Department | Mapping[str, Any]) -> Department:
        """Add a department and push create_party."""
        with self.lock:
            corp = self.corp(corp_id)
            built = dept if isinstance(dept, Department) else _department_from(dept)
            corp.add_department(built)
            pushes = [self._contact_push(auth, corp, "create_party",
                                         department_fields(built, ids_only=self._ids_only(auth)))
                      for auth in self._auths_seeing(corp, dept_id=built.id)]
        self._deliver_all(pushes)
        return built

    def update_department(self, corp_id: str, dept_id: int, **changes: Any) -> Department:
        """Change a department and push update_party."""
        with self.lock:
            corp = self.corp(corp_id)
            old = replace(corp.get_department(dept_id))
            before = self._auths_seeing(corp, dept_id=dept_id)
            new = corp.update_department(dept_id, **changes)
            changed = {f.name for f in fields(Department) if getattr(old, f.name) != getattr(new, f.name)}
            pushes = []
            if changed:
                for auth in _merge(before, self._auths_seeing(corp, dept_id=dept_id)):
                    pushes.append(self._contact_push(auth, corp, "update_party", department_fields(
                        new, changed=changed, ids_only=self._ids_only(auth))))
        self._deliver_all(pushes)
        return new

    def delete_department(self, corp_id: str, dept_id: int) -> Department:
        """Delete an empty department and push delete_party."""
        with self.lock:
            corp = self.corp(corp_id)
            seeing = self._auths_seeing(corp, dept_id=dept_id)
            old = corp.delete_department(dept_id)
            pushes = [self._contact_push(auth, corp, "delete_party", department_fields(old, deleted=True))
                      for auth in seeing]
        self._deliver_all(pushes)
        return old

    def _auths_seeing(self, corp: Corp, *, member: Member | None = None,
                      dept_id: int | None = None) -> list[Authorization]:
        seeing = []
        for auth in self.authorizations.values():
            if auth.corp_id != corp.corp_id or not auth.active:
                continue
            scope = corp.scope(auth.allow_party)
            if member is not None:
                visible = corp.member_in_scope(member, scope, auth.allow_user)
            else:
                visible = scope is None or dept_id in scope
            if visible:
                seeing.append(auth)
        return seeing

    def _ids_only(self, auth: Authorization) -> bool:
        return self.suites[auth.suite_id].contact_ids_only

    def _user_fields(self, auth: Authorization, corp: Corp, member: Member, *,
                     changed: set[str] | None = None, deleted: bool = False) -> list[Any]:
        suite = self.suites[auth.suite_id]
        open_userid = (self.open_userid(self.open_id_owner(suite), corp.corp_id, member.userid)
                       if suite.kind == "third_party" else None)
        return member_fields(member, open_userid=open_userid, ids_only=suite.contact_ids_only,
                             changed=changed, deleted=deleted)

    def _contact_push(self, auth: Authorization, corp: Corp, change_type: str,
                      payload: list[Any]) -> Push:
        suite = self.suites[auth.suite_id]
        event = f"change_contact:{change_type}"
        if suite.kind == "third_party":
            xml = contact_info_xml(suite.suite_id, corp.corp_id, self.clock.timestamp(), change_type,
                                   payload)
            return self._suite_push(suite, event, xml, corp.corp_id)
        xml = contact_event_xml(corp.corp_id, self.clock.timestamp(), change_type, payload)
        # A 代开发 app's corp callback is addressed (and encrypted) to the corp, not the suite.
        return Push(suite.data_callback_url or suite.callback_url, event, suite.suite_id, corp.corp_id,
                    xml, corp.corp_id, corp.corp_id, str(auth.agent_id), suite.token,
                    suite.encoding_aes_key)

    def _suite_push(self, suite: Suite, event: str, xml: str, corp_id: str = "") -> Push:
        return Push(suite.callback_url, event, suite.suite_id, corp_id, xml, suite.suite_id,
                    suite.suite_id, "", suite.token, suite.encoding_aes_key)

    def _deliver_all(self, pushes: Iterable[Push]) -> None:
        for push in pushes:
            self.pusher.deliver(push)

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, path: str, *, errcode: int | None = None, latency: float | None = None,
                  http_status: int | None = None, drop: bool = False,
                  times: int | None = None, params: Mapping[str, Any] | None = None) -> Fault:
        """Make requests to `path` (an fnmatch pattern) fail: the next `times` calls, or all.

        Give exactly one of: `errcode` (answer it, e.g. -1, 45009, 45033, or 60011 for an entity
        outside the app's visible range), `latency` (seconds to wait before answering normally),
        `http_status` (answer a bare 5xx) or `drop` (close the connection without an answer).
        `params` narrows the fault to requests with those query or JSON-body values, e.g.
        ``params={"department_id": 4}`` for one department's member list.
        """
        chosen = [name for name, value in (("errcode", errcode), ("latency", latency),
                                           ("http_status", http_status)) if value is not None]
        if drop:
            chosen.append("drop")
        if len(chosen) != 1:
            raise SandboxError("give exactly one of errcode, latency, http_status or drop")
        if times is not None and times < 1:
            raise SandboxError("times must be at least 1 (or None for every call)")
        if http_status is not None and not 400 <= http_status <= 599:
            raise SandboxError("http_status must be an HTTP error status (400-599)")
        if latency is not None and latency < 0:
            raise SandboxError("latency must not be negative")
        if params is not None and (not isinstance(params, Mapping)
                                   or not all(isinstance(k, str) for k in params)):
            raise SandboxError("params must map parameter names to values")
        fault = Fault(path, chosen[0], errcode=errcode or 0,  # type: ignore[arg-type]
                      seconds=latency or 0.0, status=http_status or 503, remaining=times,
                      params=None if params is None else {k: str(v) for k, v in params.items()})
        with self.lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self, path: str | None = None) -> int:
        """Remove the faults on `path` (all faults if None); return how many."""
        with self.lock:
            keep = [f for f in self._faults if path is not None and f.path != path]
            removed = len(self._faults) - len(keep)
            self._faults = keep
            return removed

    def faults(self) -> list[Fault]:
        """Return the active faults."""
        with self.lock:
            return [replace(f) for f in self._faults]

    def take_faults(self, path: str,
                    params: Mapping[str, Any] | None = None) -> tuple[float, Fault | None]:
        """Spend the faults that apply to a request: total latency, and the fault that answers it."""
        with self.lock:
            latency = 0.0
            answer: Fault | None = None
            for fault in self._faults:
                if not fault.matches(path, params or {}):
                    continue
                if fault.kind == "latency":
                    latency += fault.seconds
                elif answer is None:
                    answer = fault
                else:
                    continue
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
            self._faults = [f for f in self._faults if f.remaining is None or f.remaining > 0]
            return latency, (replace(answer) if answer is not None else None)

    # -- logs ----------------------------------------------------------------------------------

    def record_request(self, record: RequestRecord) -> None:
        """Append to the request log."""
        with self.lock:
            self._requests.append(record)

    def request_log(self, path: str | None = None) -> list[RequestRecord]:
        """Return the logged requests, oldest first, optionally only those matching `path`."""
        with self.lock:
            return [r for r in self._requests if path is None or fnmatch.fnmatchcase(r.path, path)]

    def clear_request_log(self) -> None:
        """Empty the request log."""
        with self.lock:
            self._requests.clear()

    def push_log(self, event: str | None = None, suite_id: str | None = None) -> list[PushRecord]:
        """Return every push attempt, oldest first, optionally filtered by event or suite."""
        with self.lock:
            return [p for p in self._pushes
                    if (event is None or p.event == event) and (suite_id is None or p.suite_id == suite_id)]

    def clear_push_log(self) -> None:
        """Empty the push log."""
        with self.lock:
            self._pushes.clear()

    def _record_push(self, record: PushRecord) -> None:
        with self.lock:
            self._pushes.append(record)

    # -- opaque cursors --------------------------------------------------------------------------

    def encode_cursor(self, corp_id: str, offset: int) -> str:
        """Return an opaque, tamper-evident cursor for `user/list_id`."""
        raw = f"{offset}:{corp_id}"
        mac = hmac.new(self._secret, raw.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        return base64.urlsafe_b64encode(f"{raw}:{mac}".encode()).decode("ascii").rstrip("=")

    def decode_cursor(self, cursor: str, corp_id: str) -> int:
        """Return the offset of a cursor from `encode_cursor`, or raise 40058."""
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
            offset_text, cursor_corp, mac = text.rsplit(":", 2)
            offset = int(offset_text)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ApiError(40058, "invalid cursor") from None
        expected = hmac.new(self._secret, f"{offset_text}:{cursor_corp}".encode(),
                            hashlib.sha256).hexdigest()[:16]
        if not hmac.compare_digest(mac, expected) or cursor_corp != corp_id or offset < 0:
            raise ApiError(40058, "invalid cursor")
        return offset


def _check_http_url(url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise SandboxError(f"{url!r} is not an http(s) URL")


def _default_admin(corp: Corp) -> str:
    for member in corp.members.values():
        if member.admin:
            return member.userid
    return next(iter(corp.members), "")


def _merge(first: list[Authorization], second: list[Authorization]) -> list[Authorization]:
    merged = {(a.suite_id, a.corp_id): a for a in first}
    for auth in second:
        merged.setdefault((auth.suite_id, auth.corp_id), auth)
    return list(merged.values())


def _member_from(data: Mapping[str, Any]) -> Member:
    known = {f.name for f in fields(Member)}
    unknown = set(data) - known
    if unknown:
        raise SandboxError(f"unknown member fields {sorted(unknown)}")
    if not data.get("userid") or not data.get("name") or not data.get("department"):
        raise SandboxError("a member needs userid, name and department")
    return Member(**dict(data))


def _department_from(data: Mapping[str, Any]) -> Department:
    known = {f.name for f in fields(Department)}
    unknown = set(data) - known
    if unknown:
        raise SandboxError(f"unknown department fields {sorted(unknown)}")
    if "id" not in data or not data.get("name"):
        raise SandboxError("a department needs id and name")
    return Department(**{"parentid": 1, **dict(data)})
