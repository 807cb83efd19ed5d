"""The routes of jitlite's Flask layer (see the package docstring)."""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from jitlite.runtime.app import App
from jitlite.runtime.errors import AuthError, LoginInactive, LoginStateInvalid, SessionInvalid

from .bodies import (
    CALLBACK_BODY_LIMIT,
    LoginCodeRequest,
    QrUrlQuery,
    SessionRequest,
    WorkbenchQuery,
    json_body,
    query_args,
    read_body,
)
from .errors import install_error_handlers

__all__ = ["AUTH_SERVICE", "LOGIN_META", "PROXY_SERVICE", "PROXY_TYPE", "LoginDirectory", "blueprint",
           "create_web_app"]

LOGIN_META = "auths.loginTypes.Meta"
PROXY_TYPE = "auths.loginTypes.QywxProxyType"
PROXY_SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
AUTH_SERVICE = "auths.services.AuthService"

_ORG_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_BEARER = re.compile(r"[A-Za-z0-9._~+/\-]{1,512}=*")
_NO_SUCH_LOGIN = "no active login element has this name"


class LoginDirectory:
    """Which names of an App are login elements, answered from the app index before anything is built."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._logins: frozenset[str] | None = None
        self._proxies: frozenset[str] | None = None
        self._declared_active: dict[str, bool] = {}
        self._lock = threading.Lock()

    def logins(self) -> frozenset[str]:
        """Return the fullNames of every login element (instances of Types built on auths.loginTypes.Meta)."""
        if self._logins is None:  # the index never changes for the life of the App
            self._logins = frozenset(self.app.instancesOf(LOGIN_META))
        return self._logins

    def proxies(self) -> frozenset[str]:
        """Return the fullNames of the auths.loginTypes.QywxProxyType login elements."""
        if self._proxies is None:
            self._proxies = frozenset(self.app.instancesOf(PROXY_TYPE))
        return self._proxies

    def login(self, name: str) -> Any:
        """Return an active login element; raise 404 for any other name and LoginInactive for a disabled one."""
        if name not in self.logins():
            raise NotFound(_NO_SUCH_LOGIN)
        if not self._active_in_config(name):
            raise LoginInactive(f"login through {name} is disabled (isActive is false in its config)")
        element = self.app.getElement(name)
        element.requireActive()  # also honours a switch flipped on the built element
        return element

    def check_proxy(self, name: str) -> None:
        """Raise 404 unless name is a QywxProxyType login element (active or not: callbacks always arrive)."""
        if name not in self.proxies():
            raise NotFound("no auths.loginTypes.QywxProxyType login element has this name")

    def _active_in_config(self, name: str) -> bool:
        with self._lock:
            active = self._declared_active.get(name)
            if active is None:
                config = self.app.describe(name).get("config") or {}
                active = self._declared_active[name] = bool(config.get("isActive", True))
            return active


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(_plain(data))
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


def blueprint(app: App) -> Blueprint:
    """Return the routes of jitlite's web layer bound to an App."""
    bp = Blueprint("jitlite", __name__)
    directory = LoginDirectory(app)
    install_error_handlers(bp)

    @bp.after_request
    def no_store(response: Response) -> Response:
        # Sessions, login codes and states are credentials: no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.route("/callbacks/qywx-proxy", methods=["GET", "POST"])
    @bp.route("/callbacks/qywx-proxy/<auth_full_name>", methods=["GET", "POST"])
    def qywx_proxy_callback(auth_full_name: str | None = None) -> Response:
        if auth_full_name is not None:
            directory.check_proxy(auth_full_name)
        body = read_body(CALLBACK_BODY_LIMIT) if request.method == "POST" else b""
        args = request.args
        response: Response = app.getElement(PROXY_SERVICE).notify(
            nonce=args.get("nonce"), msg_signature=args.get("msg_signature"), timestamp=args.get("timestamp"),
            echostr=args.get("echostr"), body=body, authFullName=auth_full_name)
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

    @bp.get("/auth/qywx-proxy/workbench")
    def workbench() -> Response:
        args = query_args(WorkbenchQuery, corpId="appid")
        if args.authFullName is not None:
            directory.check_proxy(args.authFullName)
        return _json(app.getElement(PROXY_SERVICE).loginByWorkbench(
            corpId=args.corpId, code=args.code, platform=args.platform, authFullName=args.authFullName))

    @bp.get("/auth/org/<code>")
    def org_code(code: str) -> Response:
        if not _ORG_CODE.fullmatch(code):
            raise NotFound("no organisation has this code")
        try:
            return _json(app.getElement(PROXY_SERVICE).getLoginConfigByCode(code))
        except AuthError as exc:
            if type(exc) is AuthError:  # "unknown organisation code"; subclasses keep their status
                raise NotFound("no organisation has this code") from None
            raise

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

    return bp


def create_web_app(app: App) -> Flask:
    """Return a Flask app serving jitlite's routes for an App (bodies capped at 64 KiB; errors as JSON)."""
    web = Flask("jitlite")
    # The outer cap; each route reads less (callbacks 64 KiB, JSON endpoints 16 KiB).
    web.config["MAX_CONTENT_LENGTH"] = CALLBACK_BODY_LIMIT
    web.register_blueprint(blueprint(app))
    install_error_handlers(web)  # unknown URLs and wrong methods answer JSON too
    return web
