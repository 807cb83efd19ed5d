"""Run the sandbox as a real HTTP server: `serve` for the `jitlite sandbox` command, `SandboxServer`
for a test or benchmark that needs real sockets.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from jitlite.sandbox import defaults, index
from jitlite.sandbox.admin import record_url_check
from jitlite.sandbox.app import create_sandbox
from jitlite.sandbox.errors import SandboxError
from jitlite.sandbox.orgdata import generate_org, load_org
from jitlite.sandbox.state import SandboxState

__all__ = ["SandboxServer", "build_state", "create_server_app", "serve"]


def build_state(org_file: str | os.PathLike[str] | None = None, members: int | None = None,
                depts: int | None = None, seed: int = 0, ticket_interval: float = 600.0,
                callback_url: str | None = None, **options: Any) -> SandboxState:
    """Return a state with the default apps and an org from `org_file`, generated, or the default."""
    if org_file is not None and (members is not None or depts is not None):
        raise SandboxError("give an org file or members/depts to generate, not both")
    if org_file is not None:
        org = load_org(org_file)
    elif members is not None or depts is not None:
        org = generate_org(members if members is not None else 100, depts if depts is not None else 10,
                           seed=seed)
    else:
        org = None
    state = SandboxState.with_defaults(org, ticket_interval=ticket_interval, **options)
    if callback_url is not None:
        state.update_suite(defaults.DEFAULT_SUITE_ID, callback_url=callback_url)
    return state


def create_server_app(state: SandboxState) -> Flask:
    """Return the sandbox app as the server serves it: the APIs, pages and admin API, and the front page at /."""
    app = create_sandbox(state)
    app.register_blueprint(index.bp)
    return app


class SandboxServer:
    """A sandbox served by werkzeug on a background thread; `with SandboxServer() as s: s.url`."""

    def __init__(self, state: SandboxState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state if state is not None else SandboxState.with_defaults()
        self.app = create_server_app(self.state)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="jitlite-sandbox-http",
                                        daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:8765."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, stop the ticket thread and release the port."""
        self.state.close()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        self._server.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _verify_at_start(flask_app: Flask, state: SandboxState, url: str, base: str) -> None:
    """Verify the default suite's --callback-url as WeCom would, and say how it went (the app may start later)."""
    suite = state.suite(defaults.DEFAULT_SUITE_ID)
    check = state.pusher.verify_url(url, suite.token, suite.encoding_aes_key, suite.suite_id)
    record_url_check(flask_app, suite.suite_id, check)
    if check.ok:
        print(f"callback URL {url} verified (echostr)", file=sys.stderr)
    else:
        print(f"warning: callback URL {url} failed verification: {check.error}; once the app answers, verify it "
              f"again: POST {base}/sandbox/suites/{suite.suite_id}/callback-url", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Stop on SIGINT and SIGTERM even when started with SIGINT ignored (a background job of a script)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)


def serve(host: str = "127.0.0.1", port: int = 8765, org_file: str | os.PathLike[str] | None = None,
          members: int | None = None, depts: int | None = None, seed: int = 0,
          ticket_interval: float = 600.0, *, callback_url: str | None = None, quiet: bool = False) -> None:
    """Serve the sandbox until interrupted, pushing suite tickets every `ticket_interval` seconds.

    `ticket_interval` 0 disables the ticket thread (tickets can still be pushed through the admin
    API). Binds to loopback unless told otherwise: the sandbox has no authentication. Port 0 takes
    a free port; the first line on stderr names the URL. `quiet` leaves out the per-request log.
    """
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state = build_state(org_file, members, depts, seed, ticket_interval or 600.0, callback_url)
    flask_app = create_server_app(state)
    server = make_server(host, port, flask_app, threaded=True)
    bound_host, bound_port = (str(part) for part in server.server_address[:2])
    corps = ", ".join(f"{c.corp_id} ({len(c.members)} members)" for c in state.org.corps.values())
    print(f"jitlite sandbox on http://{bound_host}:{bound_port} — corps: {corps}; open it for the demo credentials",
          file=sys.stderr)
    _stop_on_signals()
    try:
        if callback_url is not None:
            _verify_at_start(flask_app, state, callback_url, f"http://{bound_host}:{bound_port}")
        if ticket_interval:
            state.start_ticket_thread(ticket_interval)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state.close()
        server.server_close()
