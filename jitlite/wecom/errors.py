"""Errors raised by the WeCom/WeChat transport, grouped by what the caller must do.

::

    WeComError
    ├── WeComAPIError(errcode, errmsg, endpoint)     an errcode != 0 or an HTTP 5xx (also a jit.errcode.Code)
    │   ├── TokenExpiredError      40014 42001 42009 40082, 40001 outside token endpoints: refresh, retry
    │   ├── LoginRestartRequired   40029 40078 40163 …: the code/ticket is spent, start the login again
    │   ├── RateLimitedError       45009 (per-corp circuit opens) 45033 (back off)
    │   ├── ConfigurationError     40013 60020 48002 301002 50001 40056, 40001 on token endpoints …
    │   ├── NotFoundOrOutOfScope   60011 60111 60003 46004 …: skip that entity
    │   └── UpstreamBusyError      -1, HTTP 5xx: back off and retry
    ├── TransportError             httpx, JSON or XML failure (the cause is chained)
    ├── SuiteTicketMissing         no suite_ticket received yet for a suite
    └── CallbackError              a callback failed one of the crypto checks
        ├── SignatureMismatch  ├── MalformedCiphertext  ├── PaddingError  ├── ReceiveIdMismatch
        ├── StaleTimestamp     ├── ReplayedNonce        ├── MalformedXML  ├── BodyTooLarge
        └── MissingEncrypt

Secrets never reach a message or a repr: query strings are redacted and clients scrub their own
secret values from upstream error text before it is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..runtime.errcode import Code
from ..runtime.logredact import redact as _redact

__all__ = [
    "ERROR_TABLE",
    "TOKEN_ENDPOINTS",
    "BodyTooLarge",
    "CallbackError",
    "ConfigurationError",
    "LoginRestartRequired",
    "MalformedCiphertext",
    "MalformedXML",
    "MissingEncrypt",
    "NotFoundOrOutOfScope",
    "PaddingError",
    "RateLimitedError",
    "ReceiveIdMismatch",
    "ReplayedNonce",
    "SignatureMismatch",
    "StaleTimestamp",
    "SuiteTicketMissing",
    "TokenExpiredError",
    "TransportError",
    "UpstreamBusyError",
    "WeComAPIError",
    "WeComError",
    "error_for",
    "redact",
]

def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return text with credential values and any of the given secret values masked.

    The one implementation is ``jitlite.runtime.logredact.redact``, which every log record goes
    through as well.
    """
    return _redact(text, secrets)


class WeComError(Exception):
    """Base class of every jitlite.wecom error."""


class TransportError(WeComError):
    """An HTTP, JSON or XML failure talking to WeCom/WeChat; the original error is the cause."""

    def __init__(self, message: str, endpoint: str = "") -> None:
        self.endpoint = redact(endpoint)
        super().__init__(redact(message))


class WeComAPIError(WeComError, Code):
    """An errcode != 0 (or an HTTP 5xx) returned by a WeCom/WeChat endpoint.

    It is also JitAi's ``Code`` (``jit.errcode.Code``): ``.code`` is the errcode and ``str()``
    starts with it, so ``except Code as e: e.code`` and ``"40013" in str(e)`` both work.
    """

    default_hint = "see https://developer.work.weixin.qq.com/devtool/query for this errcode"
    retries_exhausted = False  # set once the retry policy gave up, so outer layers do not retry again

    def __init__(
        self,
        errcode: int,
        errmsg: str,
        endpoint: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.errcode = int(errcode)
        self.errmsg = redact(str(errmsg))
        self.endpoint = redact(str(endpoint))
        self.hint = redact(hint) if hint else self.default_hint
        self.status_code = status_code
        Code.__init__(self, self.errcode, self._message())

    def _message(self) -> str:
        return f"{self.errcode}: {self.hint} (endpoint {self.endpoint}; upstream said: {self.errmsg!r})"

    def __str__(self) -> str:
        return self._message()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(errcode={self.errcode}, errmsg={self.errmsg!r}, endpoint={self.endpoint!r})"

    def formatReason(self, *args: Any, **kwargs: Any) -> Code:
        """Return a plain Code with this errcode and the message's ``{placeholders}`` filled in."""
        return Code(self.code, self.reason.format(*args, **kwargs))

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.errcode, self.errmsg, self.endpoint, self.hint, self.status_code),
        )


def _rebuild_api_error(
    cls: type[WeComAPIError], errcode: int, errmsg: str, endpoint: str, hint: str, status_code: int | None
) -> WeComAPIError:
    return cls(errcode, errmsg, endpoint, hint=hint, status_code=status_code)


class TokenExpiredError(WeComAPIError):
    """The access/suite token was rejected: invalidate it and retry once."""

    default_hint = "the access token is invalid or expired; it is refreshed and the call retried once"


class LoginRestartRequired(WeComAPIError):
    """The login code or auth code is spent or expired: send the user through the login again."""

    default_hint = "the code is invalid, used or expired (codes are single use, 5 minutes); restart the login"


class RateLimitedError(WeComAPIError):
    """Upstream frequency limit hit; for 45009 calls to that corp are paused."""

    default_hint = "API frequency limit reached; slow down"

    def __init__(
        self,
        errcode: int,
        errmsg: str,
        endpoint: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(errcode, errmsg, endpoint, hint=hint, status_code=status_code)


class ConfigurationError(WeComAPIError):
    """The app, secret or console settings are wrong: fail fast and say what to fix."""

    default_hint = "the app's configuration is wrong; check corp id, secret and console settings"


class NotFoundOrOutOfScope(WeComAPIError):
    """The entity does not exist or is outside the app's visible range: skip it."""

    default_hint = "the entity does not exist or is outside the app's visible range (可见范围); skip it"


class UpstreamBusyError(WeComAPIError):
    """WeCom/WeChat answered -1 (system busy) or HTTP 5xx: retried with jittered backoff."""

    default_hint = "upstream is busy (system error); retried with backoff"


class SuiteTicketMissing(WeComError):
    """No suite_ticket has been received for a suite, so no suite token can be fetched."""

    def __init__(self, suite_id: str) -> None:
        self.suite_id = suite_id
        super().__init__(
            f"no suite_ticket received yet for suite {suite_id}: WeCom pushes one every 10 minutes "
            "to the callback URL; check the callback URL is reachable"
        )


class CallbackError(WeComError):
    """A WeCom callback failed a verification or decryption check."""

    check = "callback"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"{self.check} check failed: {detail}")


class SignatureMismatch(CallbackError):
    """msg_signature does not match SHA1(sort(token, timestamp, nonce, encrypt))."""

    check = "signature"


class MalformedCiphertext(CallbackError):
    """The ciphertext is not valid base64, not whole AES blocks, or its length field is wrong."""

    check = "ciphertext"


class PaddingError(CallbackError):
    """The PKCS#7 padding of the decrypted text is not 1–32 identical bytes."""

    check = "padding"


class ReceiveIdMismatch(CallbackError):
    """The decrypted receive-id is not in the allow-list."""

    check = "receive-id"


class StaleTimestamp(CallbackError):
    """The callback timestamp is outside the accepted window (or not a number)."""

    check = "timestamp"


class ReplayedNonce(CallbackError):
    """The nonce and timestamp pair was already accepted once."""

    check = "replay"


class MalformedXML(CallbackError):
    """The body or decrypted message is not acceptable XML (including any DOCTYPE or entity)."""

    check = "xml"


class BodyTooLarge(CallbackError):
    """The callback body exceeds the configured size limit."""

    check = "body-size"


class MissingEncrypt(CallbackError):
    """The callback envelope has no (or an empty) Encrypt element."""

    check = "encrypt"


_SECRET_HINT = (
    "the secret is wrong — a self-built app uses its Secret (应用管理 → the app → Secret), a 代开发 app "
    "uses the corp's permanent code (replaced on reset_permanent_code), a suite uses its Secret and a "
    "WeChat app its AppSecret"
)

ERROR_TABLE: Mapping[int, tuple[type[WeComAPIError], str]] = {
    -1: (UpstreamBusyError, "WeCom/WeChat is busy (system error); retried with jittered backoff"),
    # Token problems: the token manager invalidates and retries once.
    40001: (TokenExpiredError, "the access token is invalid; it is refreshed and the call retried once"),
    40014: (TokenExpiredError, "invalid access_token; it is refreshed and the call retried once"),
    40082: (TokenExpiredError, "invalid suite_access_token; it is refreshed and the call retried once"),
    42001: (TokenExpiredError, "access_token expired; it is refreshed and the call retried once"),
    42009: (TokenExpiredError, "suite_access_token expired; it is refreshed and the call retried once"),
    # Spent or expired login/auth codes.
    40029: (
        LoginRestartRequired,
        "invalid code — login codes are single use and valid 5 minutes; restart the login",
    ),
    40078: (
        LoginRestartRequired,
        "invalid or used auth code (临时授权码) — restart the authorisation/install flow",
    ),
    40163: (LoginRestartRequired, "the code has been used already — restart the login"),
    42003: (LoginRestartRequired, "the OAuth code expired — restart the login"),
    42007: (LoginRestartRequired, "the pre_auth_code expired — restart the install flow with a new one"),
    40030: (LoginRestartRequired, "invalid refresh_token — the user must log in again"),
    42002: (LoginRestartRequired, "the refresh_token expired (30 days) — the user must log in again"),
    # Frequency limits.
    45009: (
        RateLimitedError,
        "API call frequency limit reached — calls to this corp are paused for at least 60 s",
    ),
    45033: (RateLimitedError, "too many concurrent calls — retried with jittered backoff"),
    # Configuration: fail fast and say what to fix.
    40013: (
        ConfigurationError,
        "invalid corp id / app id — check the CorpID (我的企业 → 企业信息 → 企业ID) or AppID",
    ),
    40056: (ConfigurationError, "invalid agentid — check the app's AgentId in 应用管理"),
    40084: (
        ConfigurationError,
        "invalid permanent code — the corp cancelled or reset the authorisation; re-read it",
    ),
    40085: (
        ConfigurationError,
        "invalid suite_ticket — it is stale or belongs to another suite; wait for the next push",
    ),
    40086: (ConfigurationError, "invalid suite id — check the suite id (ww… / wx…) in the provider console"),
    40125: (ConfigurationError, "invalid AppSecret — copy it again from the WeChat Open Platform console"),
    40164: (
        ConfigurationError,
        "this server's IP is not in the WeChat app's IP whitelist — add it in the console",
    ),
    48002: (
        ConfigurationError,
        "API forbidden — the app lacks the permission for this API (for contacts, grant the app 通讯录 read "
        "access or use the 通讯录同步 secret)",
    ),
    50001: (
        ConfigurationError,
        "redirect_uri domain is not the app's trusted domain — set the app's 网页授权及JS-SDK 可信域名",
    ),
    60020: (
        ConfigurationError,
        "this server's IP is not in the app's trusted IP list — add it in the WeCom admin console under "
        "the app's 企业可信IP",
    ),
    301002: (
        ConfigurationError,
        "the token belongs to another app than the one that issued the code/ticket — use that app's secret",
    ),
    # Missing entity or outside the visible range: skip it during sync.
    40003: (NotFoundOrOutOfScope, "invalid userid — the member does not exist; skip it"),
    46004: (NotFoundOrOutOfScope, "the member does not exist; skip it"),
    60003: (NotFoundOrOutOfScope, "the department does not exist; skip it"),
    60011: (
        NotFoundOrOutOfScope,
        "outside the app's visible range (可见范围) — skip that entity or widen the range",
    ),
    60111: (NotFoundOrOutOfScope, "the userid does not exist; skip it"),
    60123: (NotFoundOrOutOfScope, "invalid department id; skip it"),
}

TOKEN_ENDPOINTS = frozenset(
    {
        "cgi-bin/gettoken",
        "cgi-bin/service/get_suite_token",
        "cgi-bin/service/get_provider_token",
        "cgi-bin/token",
    }
)


def error_for(errcode: int, errmsg: str, endpoint: str, *, status_code: int | None = None) -> WeComAPIError:
    """Build the error for an errcode returned by endpoint, with the hint that says what to do."""
    code = int(errcode)
    name = endpoint.strip("/")
    if code == 40001 and name in TOKEN_ENDPOINTS:
        # On a token endpoint 40001 means a bad secret, not a stale token: retrying cannot help.
        return ConfigurationError(code, errmsg, name, hint=_SECRET_HINT, status_code=status_code)
    cls, hint = ERROR_TABLE.get(code, (WeComAPIError, WeComAPIError.default_hint))
    return cls(code, errmsg, name, hint=hint, status_code=status_code)
