"""JSON errors for the web layer: every refusal and failure answers ``{"error", "requestId"}``.

Statuses say who must act:

* 400 — the request is malformed (body, query, a missing or spent OAuth ``state``, a bad value);
* 401 — the caller's credential is missing, expired or spent: a session token, a login code, or a
  WeCom/WeChat code that upstream called invalid or used (40029, 40163, 42003…: restart the login);
* 403 — refused: the login element is disabled, the corp has not authorised the suite;
* 404 — no such login element or organisation code (element names are never listed);
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
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

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

__all__ = ["REQUEST_ID_HEADER", "error_response", "install_error_handlers", "request_id"]

log = logging.getLogger("jitlite.web")

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's request id is kept only if it cannot forge log lines or headers.
_PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


def request_id() -> str:
    """Return the id of the current request (taken from X-Request-Id when plain, else random)."""
    rid: str | None = g.get("jitlite_request_id")
    if rid is None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        rid = offered if _PLAIN_REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)
        g.jitlite_request_id = rid
    return rid


def error_response(message: str, status: int, **extra: Any) -> Response:
    """Return a JSON error answer carrying the request id."""
    response = jsonify({"error": message, "requestId": request_id(), **extra})
    response.status_code = status
    return response


def _stamp(response: Response) -> Response:
    response.headers.setdefault(REQUEST_ID_HEADER, request_id())
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    response = error_response(str(message), status)
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value  # Allow on 405, Retry-After where given
    return response


def _auth_error(exc: AuthError) -> Response:
    if isinstance(exc, LoginStateInvalid):
        return error_response(str(exc), 400)
    if isinstance(exc, SessionInvalid):
        response = error_response(str(exc), 401)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if isinstance(exc, LoginCodeInvalid):
        return error_response(str(exc), 401)
    # LoginInactive, CorpNotAuthorized and any other refusal: the caller may not do this.
    return error_response(str(exc), 403)


def _not_found(exc: Exception) -> Response:
    # ElementNotFound's own message suggests similar names; an HTTP caller must not learn them.
    return error_response("not found", 404)


def _value_error(exc: ValueError) -> Response:
    if isinstance(exc, ValidationError):
        # Our own inputs are validated before any call; a ValidationError here is a server fault,
        # and its text can quote configuration values.
        return _unexpected(exc)
    return error_response(str(exc), 400)


def _wecom_error(exc: WeComError) -> Response:
    code = exc.errcode if isinstance(exc, WeComAPIError) else None
    log.warning("WeCom/WeChat call failed [request %s]: %s", request_id(), exc)
    if isinstance(exc, LoginRestartRequired):
        # The code the caller brought is invalid, used or expired: their input, not our fault.
        return error_response("the WeCom/WeChat code is invalid, used or expired; start the login again", 401,
                              errcode=code, restartLogin=True)
    if isinstance(exc, NotFoundOrOutOfScope):
        return error_response("the member is not within the app's visible range in this corp", 403, errcode=code)
    if isinstance(exc, RateLimitedError):
        response = error_response("WeCom/WeChat is rate limiting this app; try again shortly", 429, errcode=code)
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after or 60)))
        return response
    if isinstance(exc, (UpstreamBusyError, SuiteTicketMissing)):
        return error_response("WeCom/WeChat is not ready to serve this request; try again shortly", 503,
                              errcode=code)
    # What to fix is for the operator's log (above), not for the browser.
    if code is not None:
        return error_response(f"WeCom/WeChat refused the request (errcode {code})", 502, errcode=code)
    return error_response("WeCom/WeChat could not be reached", 502)


def _unexpected(exc: Exception) -> Response:
    rid = request_id()
    log.error("unexpected error answering %s %s [request %s]", request.method, request.path, rid, exc_info=exc)
    return error_response(f"internal error; quote request id {rid} when reporting it", 500)


def install_error_handlers(target: Blueprint | Flask) -> None:
    """Make a blueprint's (or a whole app's) errors JSON answers and stamp every response with its request id."""
    target.register_error_handler(HTTPException, _http_error)
    target.register_error_handler(AuthError, _auth_error)
    target.register_error_handler(ElementNotFound, _not_found)
    target.register_error_handler(InvalidElementName, _not_found)
    target.register_error_handler(ValueError, _value_error)
    target.register_error_handler(WeComError, _wecom_error)
    target.register_error_handler(Exception, _unexpected)
    target.after_request(_stamp)
