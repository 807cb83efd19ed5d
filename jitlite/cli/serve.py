"""``jitlite serve``: the development server of an app (werkzeug, threaded); production runs a WSGI server."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from ..runtime.app import App
from .appopt import app_options

__all__ = ["AppServer", "quiet_request_log", "serve", "stop_on_signals"]


@contextlib.contextmanager
def quiet_request_log(quiet: bool = True) -> Iterator[None]:
    """Leave werkzeug's per-request log lines out while inside (the level is restored after)."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class AppServer:
    """An app's web layer served by werkzeug on a background thread; ``stop()`` closes the server, not the app."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        from ..web import create_web_app

        self.app = app
        self.web: Flask = create_web_app(app)
        try:
            self._server: BaseWSGIServer = make_server(host, port, self.web, threaded=True)
        except (OSError, SystemExit) as exc:  # werkzeug exits (after saying why) when the port is taken
            reason = exc.strerror if isinstance(exc, OSError) else "the address is in use or refused"
            raise click.ClickException(f"cannot listen on {host}:{port}: {reason}; "
                                       "choose another --port (0 takes a free one)") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="jitlite-web-http", daemon=True)

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:8000."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> AppServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` (from another thread) or an interrupt."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        self._server.server_close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt while inside, even when started with SIGINT ignored
    (a script's `&`); the previous handlers are put back after.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, _interrupt)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@click.command("serve")
@app_options(positional=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port (0 takes a free one).")
@click.option("--quiet", is_flag=True, help="Leave out the per-request log lines.")
def serve(app_path: Path, host: str, port: int, quiet: bool) -> None:
    """Serve the app's web layer (login pages, JitAi's /api, callbacks) for development.

    One process, a thread per request, stopped by Ctrl-C or SIGTERM (the app is closed cleanly). In
    production run a WSGI server, e.g. gunicorn, on the same Flask app.
    """
    from . import _open, err_console

    app = _open(app_path)
    try:
        server = AppServer(app, host, port)
    except BaseException:
        app.close()
        raise
    err_console.print(f"jitlite serving {app.title} ({app.appId}) on {server.url} — login page {server.url}/login; "
                      "Ctrl-C stops", markup=False)
    try:
        with stop_on_signals(), quiet_request_log(quiet):
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        app.close()
        err_console.print("stopped", markup=False)
