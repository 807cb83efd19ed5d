"""Errors for the web layer: one classification, three renderings (JSON, JitAi's envelope, an HTML page).

Statuses say who must act:

* 400 — the request is malformed (body, query, a missing or spent OAuth ``state``, a bad value, a
  ``next`` URL to another site); an element's own ``jit.errcode.Code`` outside JitAi's API;
* 401 — the caller's credential is missing, expired or spent: a session token, a login code, or a
  WeCom/WeChat code that upstream called invalid or used (40029, 40163, 42003…: restart the login);
* 403 — refused: the login element is disabled, the corp has not authorised the suite, the caller
  is not an admin, a form came from another site or without its CSRF token;
* 404 — no such login element, organisation code, element or function (names are never listed);
* 409 — the callback record cannot be retried now (it is done, or another worker holds its lease);
* 413 — the body is larger than the route accepts;
* 429 — upstream rate limit;
* 502/503 — WeCom/WeChat failed or is misconfigured (details in the server log, not the answer);
* 500 — anything unexpected: the traceback is logged with the request id the answer carries.

Every response carries ``X-Request-Id`` (the caller's, if it sent a plain one, else a fresh one).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from jitlite.meta.inbox import LeaseHeld
from jitlite.meta.routes import RouteNotFound
from jitlite.runtime.errcode import Code
from jitlite.runtime.errors import (
    AuthError,
    ElementNotFound,
    InvalidElementName,
    LoginCodeInvalid,
    LoginStateInvalid,
    SessionInvalid,
)
from jitlite.wecom import (
    LoginRestartRequired,
    NotFoundOrOutOfScope,
    RateLimitedError,
    SuiteTicketMissing,
    UpstreamBusyError,
    WeComAPIError,
    WeComError,
)

__all__ = ["REQUEST_ID_HEADER", "Failure", "classify", "error_response", "install_error_handlers", "request_id"]

log = logging.getLogger("jitlite.web")

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's request id is kept only if it cannot forge log lines or headers.
_PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_ENVIRON_KEY = "jitlite.request_id"
_OFFERED_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")  # how WSGI names the header


def request_id() -> str:
    """Return the id of the current request (taken from X-Request-Id when plain, else random)."""
    # Kept in the WSGI environ and read from it directly: every response carries the id, and this
    # costs a fifth of going through flask.g and the header mapping.
    environ = request.environ
    rid: str | None = environ.get(_ENVIRON_KEY)
    if rid is None:
        offered = environ.get(_OFFERED_KEY, "")
        rid = offered if _PLAIN_REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)
        environ[_ENVIRON_KEY] = rid
    return rid


@dataclass
class Failure:
    """What an error means for the caller: status, a message safe to show, and what goes with them."""

    status: int
    message: str
    errcode: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Raised on purpose by an element (a ``jit.errcode.Code`` that is not a WeCom error).
    element_code: bool = False


def classify(exc: BaseException) -> Failure:
    """Return what an exception means for the caller (logging what only the operator should read)."""
    if isinstance(exc, HTTPException):
        failure = Failure(exc.code or 500, str(exc.description or exc.name))
        for name, value in exc.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                failure.headers[name] = value  # Allow on 405, Retry-After where given
        return failure
    if isinstance(exc, AuthError):
        return _auth_failure(exc)
    if isinstance(exc, (ElementNotFound, InvalidElementName)):
        # ElementNotFound's own message suggests similar names; an HTTP caller must not learn them.
        return Failure(404, "not found")
    if isinstance(exc, RouteNotFound):
        return Failure(404, str(exc))
    if isinstance(exc, LeaseHeld):
        return Failure(409, str(exc))
    if isinstance(exc, WeComError):
        return _wecom_failure(exc)
    if isinstance(exc, Code):
        return Failure(400, exc.reason or f"error {exc.code}", errcode=exc.code or -1, element_code=True)
    if isinstance(exc, ValueError) and not isinstance(exc, ValidationError):
        return Failure(400, str(exc))
    # A ValidationError here is a server fault (inputs are validated first), and its text can quote
    # configuration values: like anything else unexpected, it is logged and not shown.
    rid = request_id()
    log.error("unexpected error answering %s %s [request %s]", request.method, request.path, rid, exc_info=exc)
    return Failure(500, f"internal error; quote request id {rid} when reporting it")


def _auth_failure(exc: AuthError) -> Failure:
    if isinstance(exc, LoginStateInvalid):
        return Failure(400, str(exc))
    if isinstance(exc, SessionInvalid):
        return Failure(401, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if isinstance(exc, LoginCodeInvalid):
        return Failure(401, str(exc))
    # LoginInactive, CorpNotAuthorized and any other refusal: the caller may not do this.
    return Failure(403, str(exc))


def _wecom_failure(exc: WeComError) -> Failure:
    code = exc.errcode if isinstance(exc, WeComAPIError) else None
    log.warning("WeCom/WeChat call failed [request %s]: %s", request_id(), exc)
    if isinstance(exc, LoginRestartRequired):
        # The code the caller brought is invalid, used or expired: their input, not our fault.
        return Failure(401, "the WeCom/WeChat code is invalid, used or expired; start the login again", code,
                       extra={"restartLogin": True})
    if isinstance(exc, NotFoundOrOutOfScope):
        return Failure(403, "the member is not within the app's visible range in this corp", code)
    if isinstance(exc, RateLimitedError):
        return Failure(429, "WeCom/WeChat is rate limiting this app; try again shortly", code,
                       headers={"Retry-After": str(max(1, round(exc.retry_after or 60)))})
    if isinstance(exc, (UpstreamBusyError, SuiteTicketMissing)):
        return Failure(503, "WeCom/WeChat is not ready to serve this request; try again shortly", code)
    # What to fix is for the operator's log (above), not for the browser.
    if code is not None:
        return Failure(502, f"WeCom/WeChat refused the request (errcode {code})", code)
    return Failure(502, "WeCom/WeChat could not be reached")


def error_response(message: str, status: int, **extra: Any) -> Response:
    """Return a JSON error answer carrying the request id."""
    response = jsonify({"error": message, "requestId": request_id(), **extra})
    response.status_code = status
    return response


def json_failure(failure: Failure) -> Response:
    """Render a failure as ``{"error", "requestId"}`` (with ``errcode`` when upstream gave one)."""
    extra = dict(failure.extra)
    if failure.errcode is not None:
        extra["errcode"] = failure.errcode
    response = error_response(failure.message, failure.status, **extra)
    response.headers.update(failure.headers)
    return response


def _stamp(response: Response) -> Response:
    if REQUEST_ID_HEADER not in response.headers:  # a blueprint's hook and its app's both stamp: once is enough
        response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def install_error_handlers(target: Blueprint | Flask,
                           render: Callable[[Failure], Response] = json_failure) -> None:
    """Make a blueprint's (or a whole app's) errors answers rendered by ``render`` (JSON by default).

    Every response is stamped with its request id.
    """
    def handle(exc: Exception) -> Response:
        return render(classify(exc))

    target.register_error_handler(Exception, handle)
    target.after_request(_stamp)
