"""The routes of jitlite's Flask layer (see the package docstring)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from jitlite.meta.replies import to_plain
from jitlite.meta.routes import Inbound, Route
from jitlite.runtime.app import App
from jitlite.runtime.errors import LoginStateInvalid, SessionInvalid

from .api import api_blueprint
from .bodies import (
    CALLBACK_BODY_LIMIT,
    LoginCodeRequest,
    QrUrlQuery,
    SessionRequest,
    json_body,
    query_args,
    read_body,
)
from .directory import LOGIN_META, LoginDirectory
from .errors import install_error_handlers
from .pages import pages_blueprint
from .replies import to_response
from .sessions import AUTH_SERVICE

__all__ = ["AUTH_SERVICE", "LOGIN_META", "LoginDirectory", "blueprint", "create_web_app"]

_BEARER = re.compile(r"[A-Za-z0-9._~+/\-]{1,512}=*")


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(to_plain(data))
    response.status_code = status
    return response


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _BEARER.fullmatch(token):
        raise SessionInvalid("send the session token as 'Authorization: Bearer <token>'")
    return token


def _capability(element: Any, method: str) -> Callable[..., Any]:
    """Return a login element's method, or 404 if its Type does not offer it."""
    found = getattr(element, method, None)
    if not callable(found):
        raise NotFound(f"this login element does not offer {method}")
    return found


def _call_with(method: Callable[..., Any], values: dict[str, Any]) -> Any:
    """Call a Type's method with the given values it takes (None means absent); 400 if a required one is missing."""
    parameters = inspect.signature(method).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    given = {k: v for k, v in values.items() if v is not None and (takes_any or k in parameters)}
    missing = [name for name, p in parameters.items()
               if p.default is inspect.Parameter.empty and name not in given
               and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if missing:
        raise BadRequest("invalid request body: " + "; ".join(f"{name}: Field required" for name in missing))
    return method(**given)


def _mount_root() -> str:
    """Return the path jitlite's routes are mounted under ('' at the root of the site)."""
    top = request.blueprints[-1] if request.blueprints else "jitlite"
    return url_for(f"{top}.jitlite_pages.login_page")[: -len("/login")]


def _mount_type_routes(bp: Blueprint, pages: Blueprint, directory: LoginDirectory) -> None:
    """Mount the routes each login Type of the app declares (``webRoutes``); two Types may not claim one URL.

    A page route joins the pages (its errors are pages), any other the JSON endpoints.
    """
    claimed: dict[str, str] = {}
    declarations: set[object] = set()
    for cls in directory.login_types():
        declared = getattr(cls.webRoutes, "__func__", cls.webRoutes)
        if declared in declarations:  # a subclass Type that inherits its routes serves them once
            continue
        declarations.add(declared)
        owner = f"{cls.__module__}.{cls.__qualname__}"
        for route in cls.webRoutes(directory.app):
            for key in (route.rule, f"name:{route.name}"):
                if key in claimed:
                    raise ValueError(f"{owner} declares route {route.rule} ({route.name}), which {claimed[key]} "
                                     "already declares; give one of them another rule and name")
                claimed[key] = owner
            (pages if route.page else bp).add_url_rule(
                route.rule, endpoint=f"route-{route.name}", view_func=_route_view(route), methods=list(route.methods))


def _route_view(route: Route) -> Callable[..., Response]:
    def view(**args: str) -> Response:
        has_body = route.body_limit and request.method in ("POST", "PUT", "PATCH")
        body = read_body(route.body_limit) if has_body else b""
        inbound = Inbound(request.method, dict(args), request.args.to_dict(flat=True), body)
        reply = route.handler(inbound)
        # Only a redirect needs the mount point (a relative Location is made absolute under it).
        return to_response(reply, root=_mount_root() if reply.location is not None else "")

    view.__name__ = f"route_{route.name.replace('-', '_')}"
    return view


def blueprint(app: App) -> Blueprint:
    """Return the routes of jitlite's web layer for an App: JSON endpoints, JitAi's API, the login round trip, pages."""
    bp = Blueprint("jitlite", __name__)
    directory = LoginDirectory(app)
    install_error_handlers(bp)

    @bp.after_request
    def no_store(response: Response) -> Response:
        # Sessions, login codes, states and personal pages: no browser or proxy may keep a copy.
        if not (request.endpoint or "").endswith("jitlite_pages.static"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @bp.get("/auth/<auth_full_name>/config")
    def login_config(auth_full_name: str) -> Response:
        element = directory.login(auth_full_name)
        return _json(_capability(element, "getLoginConfig")())

    @bp.get("/auth/<auth_full_name>/qr-url")
    def qr_url(auth_full_name: str) -> Response:
        element = directory.login(auth_full_name)
        build = _capability(element, "buildQrLoginUrl")
        args = query_args(QrUrlQuery)
        return _json({"url": build(args.corpId, args.redirectUri)})

    @bp.post("/auth/<auth_full_name>/login-code")
    def login_code(auth_full_name: str) -> Response:
        element = directory.login(auth_full_name)
        get_login_code = _capability(element, "getLoginCode")
        body = json_body(LoginCodeRequest)
        if body.state is None:
            # Over HTTP the state is what ties the code to the browser that started the login.
            raise LoginStateInvalid("state is required: send back the state the login URL carried, or start "
                                    "the login again")
        # Each Type names the provider's code as its reference page does (QywxInnerType: authCode).
        values = body.model_dump()
        return _json(_call_with(get_login_code, {**values, "authCode": values["code"]}))

    @bp.post("/auth/session")
    def open_session() -> Response:
        body = json_body(SessionRequest)
        return _json(app.getElement(AUTH_SERVICE).exchangeLoginCode(body.loginCode, body.corpId, body.platform))

    @bp.get("/auth/session")
    def session() -> Response:
        return _json(app.getElement(AUTH_SERVICE).getSession(_bearer()))

    @bp.delete("/auth/session")
    def logout() -> Response:
        if not app.getElement(AUTH_SERVICE).logout(_bearer()):
            raise SessionInvalid("the session is invalid, expired or already logged out")
        return _json({"loggedOut": True})

    pages = pages_blueprint(app, directory)
    _mount_type_routes(bp, pages, directory)
    bp.register_blueprint(api_blueprint(app))
    bp.register_blueprint(pages)
    return bp


def create_web_app(app: App) -> Flask:
    """Return a Flask app serving jitlite's routes for an App (bodies capped at 64 KiB; errors as JSON)."""
    web = Flask("jitlite")
    # The outer cap; each route reads less (callbacks 64 KiB, JSON endpoints 16 KiB).
    web.config["MAX_CONTENT_LENGTH"] = CALLBACK_BODY_LIMIT
    web.register_blueprint(blueprint(app))
    install_error_handlers(web)  # unknown URLs and wrong methods answer JSON too
    return web
