"""The sandbox Flask app: WeCom and WeChat APIs, login pages and the admin API on one origin.

Paths do not collide across the emulated hosts (/cgi-bin/ is qyapi.weixin.qq.com, /sns/ is
api.weixin.qq.com, /wwlogin/ is login.work.weixin.qq.com, /connect/ is open.weixin.qq.com), so a
client can keep the official URLs and only swap its httpx transport for one bound to this app.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import httpx
from flask import Flask, Response, g, request

from jitlite.sandbox import admin, api_sns, api_wecom, pages
from jitlite.sandbox._web import EXTENSION, json_response, sandbox_state
from jitlite.sandbox.errors import ApiError, errmsg
from jitlite.sandbox.models import RequestRecord, mask_secret
from jitlite.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["create_sandbox"]

_DROP_HEADER = "X-Jitlite-Sandbox-Drop"
_SECRET_KEYS = frozenset({"corpsecret", "secret", "suite_secret", "provider_secret", "permanent_code"})


def create_sandbox(state: SandboxState | None = None) -> Flask:
    """Return the sandbox app serving `state` (a state with the default org and apps if None)."""
    state = state if state is not None else SandboxState.with_defaults()
    app = Flask("jitlite.sandbox")
    app.extensions[EXTENSION] = state
    for blueprint in (api_wecom.bp, api_sns.bp, pages.bp, admin.bp):
        app.register_blueprint(blueprint)
    app.before_request(_apply_faults)
    app.after_request(_log_request)
    app.register_error_handler(ApiError, _api_error)
    app.wsgi_app = _DropConnections(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _api_error(exc: ApiError) -> Response:
    return json_response(exc.to_json(), exc.http_status)


def _apply_faults() -> Response | None:
    if request.blueprint == admin.bp.name:
        return None
    state = sandbox_state()
    params: dict[str, Any] = dict(request.args)
    if any(f.params for f in state.faults()):  # read the body only when some fault looks at values
        body = request.get_json(silent=True, cache=True)
        if isinstance(body, dict):
            params = {**body, **params}
    latency, fault = state.take_faults(request.path, params)
    if latency:
        g.sandbox_fault = f"latency {latency:g}s"
        time.sleep(latency)
    if fault is None:
        return None
    if fault.kind == "errcode":
        g.sandbox_fault = f"errcode {fault.errcode}"
        return json_response({"errcode": fault.errcode, "errmsg": errmsg(fault.errcode)})
    if fault.kind == "http_status":
        g.sandbox_fault = f"http {fault.status}"
        return Response(f"sandbox fault: HTTP {fault.status}", status=fault.status,
                        content_type="text/plain; charset=utf-8")
    g.sandbox_fault = "drop"
    # The middleware below turns this marker into a dropped connection.
    return Response(status=502, headers={_DROP_HEADER: "1"})


def _masked(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {key: mask_secret(str(value)) if key in _SECRET_KEYS else value for key, value in data.items()}


def _log_request(response: Response) -> Response:
    if request.blueprint == admin.bp.name:
        return response
    if request.is_json or request.path.startswith("/cgi-bin/"):
        body: Any = request.get_json(silent=True)
    else:
        body = dict(request.form) or None
    state = sandbox_state()
    state.record_request(RequestRecord(
        time=state.clock.now(),
        method=request.method,
        path=request.path,
        query=_masked(dict(request.args)),
        body=_masked(body),
        status=response.status_code,
        errcode=g.get("sandbox_errcode"),
        fault=g.get("sandbox_fault"),
    ))
    return response


class _DropConnections:
    """Close the connection without an answer when a `drop` fault marked the response.

    Under a real server the socket is shut and werkzeug treats it as a dropped connection; in
    process (httpx.WSGITransport) the client gets the RemoteProtocolError a real drop causes.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        dropped = False

        def intercept(status: str, headers: list[tuple[str, str]],
                      exc_info: Any = None) -> Callable[[bytes], object]:
            nonlocal dropped
            if any(name == _DROP_HEADER for name, _ in headers):
                dropped = True
                return lambda data: None
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, intercept)
        if not dropped:
            return body
        close = getattr(body, "close", None)
        if close is not None:
            close()
        connection = environ.get("werkzeug.socket")
        if isinstance(connection, socket.socket):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            raise ConnectionAbortedError("sandbox fault: connection dropped")
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
