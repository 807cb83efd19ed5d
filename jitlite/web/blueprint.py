"""The routes of jitlite's Flask layer (see the package docstring)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from jitlite.runtime.app import App
from jitlite.runtime.errors import AuthError, ElementNotFound, InvalidElementName
from jitlite.wecom import WeComAPIError, WeComError

__all__ = ["blueprint", "create_web_app"]

log = logging.getLogger("jitlite.web")

PROXY_SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
AUTH_SERVICE = "auths.services.AuthService"


def _json(data: Any, status: int = 200) -> Response:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    response = jsonify(plain(data))
    response.status_code = status
    return response


def _error(message: str, status: int) -> Response:
    return _json({"error": message}, status)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def blueprint(app: App) -> Blueprint:
    """Return the routes of jitlite's web layer bound to an App."""
    bp = Blueprint("jitlite", __name__)

    def login_element(full_name: str) -> Any:
        element = app.getElement(full_name)
        if not hasattr(element, "getLoginConfig") or not hasattr(element, "authType"):
            raise ElementNotFound(full_name, detail="it is not a login element")
        return element

    @bp.errorhandler(AuthError)
    def refused(exc: AuthError) -> Response:
        return _error(str(exc), 403)

    @bp.errorhandler(ElementNotFound)
    @bp.errorhandler(InvalidElementName)
    def not_found(exc: Exception) -> Response:
        return _error(str(exc), 404)

    @bp.errorhandler(ValueError)
    def bad_request(exc: ValueError) -> Response:
        return _error(str(exc), 400)

    @bp.errorhandler(WeComError)
    def upstream(exc: WeComError) -> Response:
        # WeCom's message can say what to fix but is for the operator's log, not the browser.
        log.warning("WeCom call failed: %s", exc)
        code = exc.errcode if isinstance(exc, WeComAPIError) else None
        return _error(f"WeCom refused the request (errcode {code})" if code else "WeCom could not be reached", 502)

    @bp.route("/callbacks/qywx-proxy", methods=["GET", "POST"])
    @bp.route("/callbacks/qywx-proxy/<auth_full_name>", methods=["GET", "POST"])
    def qywx_proxy_callback(auth_full_name: str | None = None) -> Response:
        args = request.args
        response: Response = app.getElement(PROXY_SERVICE).notify(
            nonce=args.get("nonce"), msg_signature=args.get("msg_signature"), timestamp=args.get("timestamp"),
            echostr=args.get("echostr"), body=None if request.method == "POST" else b"",
            authFullName=auth_full_name)
        return response

    @bp.get("/auth/<auth_full_name>/config")
    def login_config(auth_full_name: str) -> Response:
        return _json(login_element(auth_full_name).getLoginConfig())

    @bp.get("/auth/<auth_full_name>/qr-url")
    def qr_url(auth_full_name: str) -> Response:
        element = login_element(auth_full_name)
        corp_id, redirect_uri = request.args.get("corpId", ""), request.args.get("redirectUri", "")
        if not corp_id or not redirect_uri:
            raise ValueError("corpId and redirectUri are required")
        return _json({"url": element.buildQrLoginUrl(corp_id, redirect_uri)})

    @bp.post("/auth/<auth_full_name>/login-code")
    def login_code(auth_full_name: str) -> Response:
        body = request.get_json(silent=True) or {}
        element = login_element(auth_full_name)
        return _json(element.getLoginCode(corpId=body.get("corpId"), code=body.get("code"),
                                          loginType=body.get("loginType"), state=body.get("state")))

    @bp.get("/auth/qywx-proxy/workbench")
    def workbench() -> Response:
        args = request.args
        return _json(app.getElement(PROXY_SERVICE).loginByWorkbench(
            corpId=args.get("corpId") or args.get("appid") or "", code=args.get("code") or "",
            platform=args.get("platform", "app")))

    @bp.get("/auth/org/<code>")
    def org_code(code: str) -> Response:
        return _json(app.getElement(PROXY_SERVICE).getLoginConfigByCode(code))

    @bp.post("/auth/session")
    def open_session() -> Response:
        body = request.get_json(silent=True) or {}
        return _json(app.getElement(AUTH_SERVICE).exchangeLoginCode(
            str(body.get("loginCode", "")), body.get("corpId"), body.get("platform", "app")))

    @bp.get("/auth/session")
    def session() -> Response:
        return _json(app.getElement(AUTH_SERVICE).getSession(_bearer()))

    @bp.delete("/auth/session")
    def logout() -> Response:
        return _json({"loggedOut": app.getElement(AUTH_SERVICE).logout(_bearer())})

    return bp


def create_web_app(app: App) -> Flask:
    """Return a Flask app serving jitlite's routes for an App."""
    web = Flask("jitlite")
    web.register_blueprint(blueprint(app))
    return web
