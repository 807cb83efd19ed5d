"""JitAi's HTTP API: ``POST /api/<orgId>/<appName>/<element path>/<functionName>`` with keyword arguments.

The element path is the element's fullName with ``/`` for ``.``; the JSON body is an object of the
function's keyword arguments (empty: none)::

    POST /api/local/jitliteDemo/auths/QywxProxyTemp/getLoginConfig            {}
    POST /api/acme/crm/services/MyBusinessService/calculateTotal              {"amount": 100, "discount": 5}

``orgId`` and ``appName`` come from the app's ``appId``: ``"acme.crm"`` is served under
``/api/acme/crm``; a plain appId (``"jitliteDemo"``) under ``/api/local/jitliteDemo``.

What may be called: the functions an element's e.json lists in ``functionList`` (each with
``"loginRequired"``, default true), and the official Types' documented methods named in their
class's ``apiFunctions`` allow-list (see ``jitlite.meta.routes``). Nothing else: no other attribute,
no name starting with ``_``, no Type or Meta.

Answers are JitAi's envelope, ``{"errcode": 0, "errmsg": "ok", "data": …, "requestId": …}``. An
error is a non-zero ``errcode`` and a message without traceback: a ``jit.errcode.Code`` the element
raised answers its ``.code`` with HTTP 200 (the function ran and said no), WeCom's errors their
errcode, and a refusal of the request itself (unknown element or function, no session, bad body)
the HTTP status as errcode with that status. A raw function (``notify``, WeCom's callback URL) is
answered as it is, never wrapped, for GET and POST.

``loginRequired`` functions need a session: the ``jitlite_session`` cookie or ``Authorization:
Bearer``. A call authenticated by the cookie must send ``Content-Type: application/json``, which a
cross-site form cannot, so a page elsewhere cannot call the API as the user.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, Forbidden, MethodNotAllowed, NotFound

from jitlite.meta.replies import Reply, to_plain
from jitlite.meta.routes import ApiFunction
from jitlite.runtime.app import App
from jitlite.runtime.classes import INIT_FILE
from jitlite.runtime.errors import ElementNotFound, InvalidElementName

from .bodies import read_body
from .errors import Failure, install_error_handlers, request_id
from .replies import to_response
from .sessions import WebSession, current_session, is_admin

__all__ = ["LOCAL_ORG", "api_blueprint", "api_prefix"]

#: The orgId under which an app with a plain appId (no ``orgId.`` part) is served.
LOCAL_ORG = "local"
_FUNCTION = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MAX_SEGMENTS = 16


def api_prefix(appId: str) -> tuple[str, str]:
    """Return ``(orgId, appName)``: ``"acme.crm"`` → ``("acme", "crm")``; ``"demo"`` → ``("local", "demo")``."""
    org, dot, name = appId.partition(".")
    return (org, name) if dot and org and name else (LOCAL_ORG, appId)


def _envelope(data: Any) -> Response:
    return jsonify({"errcode": 0, "errmsg": "ok", "data": to_plain(data), "requestId": request_id()})


def envelope_failure(failure: Failure) -> Response:
    """Render a failure as JitAi's envelope: a non-zero errcode and a message, HTTP 200 for an element's Code."""
    errcode = failure.errcode if failure.errcode is not None else failure.status
    body: dict[str, Any] = {"errcode": errcode or -1, "errmsg": failure.message, "data": None,
                            "requestId": request_id(), **failure.extra}
    response = jsonify(body)
    response.status_code = 200 if failure.element_code else failure.status
    response.headers.update(failure.headers)
    return response


def _declared(app: App, full_name: str, function: str) -> ApiFunction | None:
    """Return how a function listed in the element's e.json functionList is called, if it is listed."""
    for entry in app.spec(full_name).declaration.functionList:
        name = entry.get("name") if isinstance(entry, Mapping) else entry
        if name == function:
            login_required = entry.get("loginRequired", True) if isinstance(entry, Mapping) else True
            return ApiFunction("login" if login_required is not False else "public")
    return None


def _element_class(app: App, full_name: str) -> type:
    """Return an instance element's class: its Type's (nothing built), or its own (built, as any call would)."""
    spec = app.spec(full_name)
    # Code of its own (className, or JitAi's same-name export from __init__.py): the class is its own.
    if spec.type_spec is None or any(s.declaration.className or INIT_FILE in s.files for s in spec.override_chain()):
        return type(app.getElement(full_name))
    found = app.getElement(spec.type_spec.full_name)
    return found if isinstance(found, type) else type(found)


def _json_object(limit: int, session: WebSession | None) -> dict[str, Any]:
    """Return the body's JSON object of keyword arguments (an empty body is no arguments)."""
    json_type = request.mimetype == "application/json" or request.mimetype.endswith("+json")
    if session is not None and session.fromCookie and not json_type:
        raise Forbidden("a call made with the session cookie must send Content-Type: application/json")
    raw = read_body(limit)
    if not raw.strip():
        return {}
    if not json_type:
        raise BadRequest("send the arguments as a JSON object with Content-Type: application/json")
    try:
        value = json.loads(raw.decode("utf-8"))  # JSON is UTF-8 (RFC 8259): no guessing of other encodings
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON (UTF-8)") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object of the function's keyword arguments")
    return value


def _check_arguments(method: Any, kwargs: dict[str, Any], function: str) -> None:
    """Refuse (400) arguments the function does not take, and missing required ones, before calling it."""
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise BadRequest(f"invalid arguments for {function}: {exc}") from None


def api_blueprint(app: App) -> Blueprint:
    """Return JitAi's API routes for an App."""
    bp = Blueprint("jitlite_api", __name__)
    install_error_handlers(bp, envelope_failure)
    org_id, app_name = api_prefix(app.appId)

    @bp.route("/api/<org>/<name>/<path:target>", methods=["GET", "POST"])
    def call(org: str, name: str, target: str) -> Response:
        if (org, name) != (org_id, app_name):
            raise NotFound("no app is served under this orgId and appName")
        parts = target.split("/")
        if not 2 <= len(parts) <= _MAX_SEGMENTS + 1 or not all(_SEGMENT.fullmatch(p) for p in parts[:-1]):
            raise NotFound("no such element")
        full_name, function = ".".join(parts[:-1]), parts[-1]
        if not _FUNCTION.fullmatch(function):
            raise NotFound("no such function")
        try:
            spec = app.spec(full_name)
        except (ElementNotFound, InvalidElementName):
            raise NotFound("no such element") from None
        if spec.kind != "instance":
            raise NotFound("no such element")
        how = _declared(app, full_name, function)
        if how is None:
            how = getattr(_element_class(app, full_name), "apiFunctions", {}).get(function)
        if how is None:
            raise NotFound("no such function")
        # A public function reads no session: a callback from WeCom is never refused for a header.
        session = current_session(app, required=True) if how.loginRequired else None
        if how.access == "admin" and not is_admin(app, session):
            raise Forbidden("only the app's admins may call this function")
        if how.raw is not None:
            return _raw(app.getElement(full_name), how)
        if request.method != "POST":
            raise MethodNotAllowed(["POST"])
        kwargs = _json_object(how.body_limit, session)
        element = app.getElement(full_name)
        _check_access(app, element, how, kwargs, session)
        method = getattr(element, function, None)
        if not callable(method):
            raise NotFound("no such function")
        missing = [arg for arg in how.required if kwargs.get(arg) in (None, "")]
        if missing:
            raise BadRequest(f"{function} needs {', '.join(missing)} over HTTP")
        _check_arguments(method, kwargs, function)
        return _envelope(method(**kwargs))

    return bp


def _raw(element: Any, how: ApiFunction) -> Response:
    """Answer a raw function (WeCom's callback) with its own reply, never wrapped."""
    assert how.raw is not None
    body = read_body(how.body_limit) if request.method == "POST" else None
    handler = getattr(element, how.raw)
    reply: Reply = handler(request.args.to_dict(flat=True), body)
    return to_response(reply)


def _check_access(app: App, element: Any, how: ApiFunction, kwargs: dict[str, Any],
                  session: WebSession | None) -> None:
    """Apply ``self`` (the caller's own userId) and ``corp`` (the caller's corp) access."""
    if how.access == "self":
        assert session is not None
        mine = str(session["userId"])
        asked = kwargs.setdefault("userId", mine)
        if asked != mine and not is_admin(app, session):
            raise Forbidden("you may do this for your own user only")
    elif how.access == "corp":
        assert session is not None
        corp = getattr(element, "corpId", None)
        if (not corp or session.get("corpId") != corp) and not is_admin(app, session):
            raise Forbidden("your session is not in this element's corp")
