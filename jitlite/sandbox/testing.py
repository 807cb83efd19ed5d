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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from jitlite.sandbox.clock import Clock
from jitlite.sandbox.inprocess import SANDBOX_BASE_URL, PushRouter, Sandbox
from jitlite.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


__all__ = [
    "SANDBOX_BASE_URL",
    "PushRouter",
    "ReceivedPush",
    "RecordingReceiver",
    "Sandbox",
    "sandbox",
    "sandbox_state",
]

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
    return Sandbox.start(sandbox_state)
