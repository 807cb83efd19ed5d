"""The sandbox in process: its state, its Flask app, and an httpx transport bound to that app.

``Sandbox.start()`` makes one; ``sandbox.connect(app)`` points a jitlite App at it — API calls, login
URLs and the suites' callback pushes, all without a socket. The demo and the tests run this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from flask import Flask

from jitlite.sandbox import defaults
from jitlite.sandbox.app import create_sandbox
from jitlite.sandbox.models import AuthCode
from jitlite.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from jitlite.runtime.app import App

__all__ = ["SANDBOX_BASE_URL", "PushRouter", "Sandbox"]

SANDBOX_BASE_URL = "http://sandbox.jitlite.test"


class PushRouter(httpx.BaseTransport):
    """Send each push to the transport registered for its host, else to `default`."""

    def __init__(self, default: httpx.BaseTransport | None = None) -> None:
        self.default = default
        self.routes: dict[str, httpx.BaseTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Route one request by host."""
        transport = self.routes.get(request.url.host, self.default)
        if transport is None:
            raise httpx.ConnectError(f"no in-process receiver for host {request.url.host!r}",
                                     request=request)
        return transport.handle_request(request)


@dataclass
class Sandbox:
    """An in-process sandbox: its state, Flask app and an httpx transport bound to the app."""

    state: SandboxState
    app: Flask
    transport: httpx.WSGITransport
    base_url: str = SANDBOX_BASE_URL
    router: PushRouter = field(default_factory=PushRouter)

    @classmethod
    def start(cls, state: SandboxState | None = None) -> Sandbox:
        """Return an in-process sandbox over state (the defaults if None)."""
        state = state if state is not None else SandboxState.with_defaults()
        app = create_sandbox(state)
        return cls(state, app, httpx.WSGITransport(app=app))

    def client(self, **kwargs: Any) -> httpx.Client:
        """Return an httpx client that talks to the sandbox in process."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.Client(transport=self.transport, **kwargs)

    def route_pushes_to(self, wsgi_app: WSGIApplication, host: str | None = None) -> None:
        """Deliver callback pushes (to `host`, or to any host) to a WSGI app in process."""
        transport = httpx.WSGITransport(app=wsgi_app)
        if host is None:
            self.router.default = transport
        else:
            self.router.routes[host] = transport
        self.state.push_transport = self.router

    def connect(self, app: App, *, callback_host: str = "jitlite-app.test") -> None:
        """Point a jitlite App at this sandbox: its API calls, login URLs and the suites' callbacks.

        The App's WeCom/WeChat clients talk to the sandbox in process; each suite of the App's
        ``auths.loginTypes.QywxProxyType`` elements gets its callbacks pushed to the App's web layer.
        """
        from jitlite.web import create_web_app

        app.httpTransport = self.transport
        app.configure(wecomBaseUrl=self.base_url, wechatBaseUrl=self.base_url,
                      wecomLoginBaseUrl=self.base_url, wechatOpenBaseUrl=self.base_url)
        self.route_pushes_to(create_web_app(app), host=callback_host)
        for name in app.instancesOf("auths.loginTypes.QywxProxyType"):
            login = app.getElement(name)
            if login.suiteId in self.state.suites:
                url = f"http://{callback_host}/callbacks/qywx-proxy/{name}"
                self.state.update_suite(login.suiteId, callback_url=url, data_callback_url=url)

    def authorize(self, suite_id: str = defaults.DEFAULT_SUITE_ID, corp_id: str = defaults.DEFAULT_CORP_ID,
                  **options: Any) -> AuthCode:
        """Authorise a suite in a corp (the defaults unless told) and push create_auth."""
        return self.state.authorize(suite_id, corp_id, **options)
