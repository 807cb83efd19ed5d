"""Sessions in the browser and on the API: cookies, bearer tokens, CSRF tokens, admins and safe ``next`` URLs.

* The session token travels in the ``jitlite_session`` cookie (HttpOnly, SameSite=Lax, Secure when the
  request came over https) or in ``Authorization: Bearer <token>``.
* Forms that change something (logout, the corp chooser, the admin page's buttons) carry a CSRF
  token derived from the credential the browser holds (HMAC of the session token, or of the
  pending login code), and are refused when their ``Origin`` (or ``Referer``) names another site.
  A cross-site page can neither read the HttpOnly cookie nor compute the token; SameSite=Lax keeps
  the cookie off cross-site POSTs as a second line.
* ``next`` URLs are same-site paths only: an absolute URL to another host, ``//host``, a backslash,
  a scheme or a control character is refused (no open redirect).
* Admins are named by the app's settings: ``"admins": ["u_…", "wwcorpid:userid"]`` — system user ids,
  or a WeCom member as ``corpId:userid``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import g, request
from werkzeug.exceptions import BadRequest, Forbidden
from werkzeug.wrappers import Response as BaseResponse

from jitlite.meta.auths import WECOM
from jitlite.runtime import clock
from jitlite.runtime.app import App
from jitlite.runtime.errors import SessionInvalid

__all__ = [
    "ADMINS_SETTING",
    "AUTH_SERVICE",
    "LOGIN_CODE_COOKIE",
    "SESSION_COOKIE",
    "STATE_COOKIE",
    "WebSession",
    "check_form",
    "clear_cookie",
    "csrf_token",
    "current_session",
    "is_admin",
    "offered_token",
    "safe_next",
    "set_cookie",
]

AUTH_SERVICE = "auths.services.AuthService"
SESSION_COOKIE = "jitlite_session"
STATE_COOKIE = "jitlite_login_state"
LOGIN_CODE_COOKIE = "jitlite_login_code"
ADMINS_SETTING = "admins"
MAX_NEXT_LENGTH = 2048

_TOKEN = re.compile(r"[A-Za-z0-9._~+/\-]{1,512}=*")
_UNSAFE_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


class WebSession(dict[str, Any]):
    """A live session (``userId``, ``corpId``, ``platform``, ``expiresAt``) and where its token came from."""

    @property
    def token(self) -> str:
        """Return the session token."""
        return str(self["token"])

    @property
    def fromCookie(self) -> bool:
        """Tell whether the token came from the session cookie (rather than a bearer header)."""
        return bool(self.get("source") == "cookie")


def offered_token() -> tuple[str | None, str]:
    """Return the session token the request offers and where from (``bearer`` or ``cookie``).

    A malformed ``Authorization`` header is refused (SessionInvalid) rather than ignored.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not _TOKEN.fullmatch(token):
            raise SessionInvalid("send the session token as 'Authorization: Bearer <token>'")
        return token, "bearer"
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and _TOKEN.fullmatch(cookie):
        return cookie, "cookie"
    return None, ""


def current_session(app: App, *, required: bool = False) -> WebSession | None:
    """Return the request's live session (once per request), or None; with ``required``, raise SessionInvalid."""
    cached: WebSession | bool | None = g.get("jitlite_session", False)
    if cached is False:
        token, source = offered_token()
        found: WebSession | None = None
        if token is not None:
            try:
                found = WebSession(app.getElement(AUTH_SERVICE).getSession(token), token=token, source=source)
            except SessionInvalid:
                if source == "bearer" or required:
                    raise
        g.jitlite_session = cached = found
    if cached is None and required:
        raise SessionInvalid("log in first: send the session cookie or 'Authorization: Bearer <token>'")
    return cached if isinstance(cached, WebSession) else None


def is_admin(app: App, session: WebSession | None) -> bool:
    """Tell whether the session's user is one of the app's admins (settings ``admins``)."""
    if session is None:
        return False
    admins = app.settings.get(ADMINS_SETTING) or []
    if not isinstance(admins, list):
        return False
    named = {entry for entry in admins if isinstance(entry, str)}
    user_id = str(session["userId"])
    if user_id in named:
        return True
    members = {f"{i['appId']}:{i['externalId']}"
               for i in app.getElement(AUTH_SERVICE).identitiesOf(user_id, WECOM)}
    return bool(members & named)


def csrf_token(credential: str) -> str:
    """Return the CSRF token of forms posted with this credential (a session token or a pending login code)."""
    return hmac.new(credential.encode("utf-8"), b"jitlite-csrf", hashlib.sha256).hexdigest()


def check_form(credential: str) -> None:
    """Refuse (403) a form from another site, or without the CSRF token of this credential."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if f"{parts.scheme}://{parts.netloc}" != request.host_url.rstrip("/"):
            raise Forbidden("this form was sent from another site")
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), csrf_token(credential).encode()):
        raise Forbidden("this form has expired or did not come from this site; reload the page and try again")


def safe_next(value: str | None, default: str) -> str:
    """Return ``value`` as a same-site path to go to after login; raise 400 for anything that leaves the site."""
    if value is None or value == "":
        return default
    if len(value) > MAX_NEXT_LENGTH or _UNSAFE_NEXT.search(value):
        raise BadRequest("next must be a path on this site")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        here = urlsplit(request.host_url)
        if parts.scheme not in ("http", "https") or parts.netloc != here.netloc:
            raise BadRequest("next must be a path on this site, not another site's address")
        value = parts.path + (f"?{parts.query}" if parts.query else "")
        parts = urlsplit(value)
    if not value.startswith("/") or value.startswith("//"):
        raise BadRequest("next must be a path on this site, starting with a single /")
    return value


def set_cookie(response: BaseResponse, name: str, value: str, *, path: str, expires: datetime | None = None,
               max_age: int | None = None) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure when the request came over https)."""
    if expires is not None and max_age is None:
        max_age = max(0, int((expires - clock.utc_now()).total_seconds()))
    response.set_cookie(name, value, max_age=max_age, path=path, secure=request.is_secure, httponly=True,
                        samesite="Lax")


def clear_cookie(response: BaseResponse, name: str, *, path: str) -> None:
    """Delete a cookie set by set_cookie."""
    response.delete_cookie(name, path=path, secure=request.is_secure, httponly=True, samesite="Lax")
