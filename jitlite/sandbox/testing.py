"""pytest fixtures for the sandbox; enable with ``pytest_plugins = ["jitlite.sandbox.testing"]``.

`sandbox` gives a fresh in-process sandbox per test: the default org (one corp, five departments,
ten members), the default suite, self-built app, WeChat app and provider of
`jitlite.sandbox.defaults`, a frozen clock, pushes retried without waiting, and no ticket thread
unless the test starts one (it is stopped when the test ends)::

    def test_login(sandbox):
        with sandbox.client() as client:
            token = client.get("/cgi-bin/gettoken", params={...}).json()["access_token"]
        sandbox.route_pushes_to(my_flask_app)        # callbacks go to an in-process app
        sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from flask import Flask
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from jitlite.sandbox import defaults
from jitlite.sandbox.app import create_sandbox
from jitlite.sandbox.clock import Clock
from jitlite.sandbox.models import AuthCode
from jitlite.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from jitlite.app import App

__all__ = [
    "SANDBOX_BASE_URL",
    "PushRouter",
    "ReceivedPush",
    "RecordingReceiver",
    "Sandbox",
    "sandbox",
    "sandbox_state",
]

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


@dataclass
class ReceivedPush:
    """One request a RecordingReceiver got."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes


class RecordingReceiver:
    """A WSGI app that records callback pushes and answers from a script ("success" when it runs out).

    Each scripted answer is a body string, or a (status, body) pair; `delay` seconds are slept
    before every answer.
    """

    def __init__(self, answers: Iterable[str | tuple[int, str]] = (), *, delay: float = 0.0) -> None:
        self._answers = list(answers)
        self.delay = delay
        self.received: list[ReceivedPush] = []
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = WsgiRequest(environ)
        with self._lock:
            self.received.append(ReceivedPush(request.method, request.path, dict(request.args),
                                              request.get_data()))
            answer = self._answers.pop(0) if self._answers else "success"
        if self.delay:
            time.sleep(self.delay)
        status, text = answer if isinstance(answer, tuple) else (200, answer)
        return WsgiResponse(text, status=status, content_type="text/plain")(environ, start_response)

    def json_log(self) -> str:
        """Return what was received, as JSON, for a readable assertion message."""
        return json.dumps([{"path": r.path, "query": r.query} for r in self.received], indent=1)


@pytest.fixture
def sandbox_state() -> Iterator[SandboxState]:
    """Yield a fresh default state with a frozen clock; its threads stop when the test ends."""
    state = SandboxState.with_defaults(clock=Clock(frozen=True), push_backoff=0.0)
    try:
        yield state
    finally:
        state.close()


@pytest.fixture
def sandbox(sandbox_state: SandboxState) -> Sandbox:
    """Return an in-process sandbox seeded with the defaults of jitlite.sandbox.defaults."""
    app = create_sandbox(sandbox_state)
    return Sandbox(sandbox_state, app, httpx.WSGITransport(app=app))
