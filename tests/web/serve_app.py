"""Serve an app folder's web layer on 127.0.0.1 in this process until stdin closes.

Run as ``python serve_app.py <app folder>``: prints the port it listens on, then serves (werkzeug,
one thread per request) until its parent closes stdin.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

import jitlite
from jitlite.web import create_web_app

READ_CAP = 1024 * 1024


class _SmallReads:
    """A socket reader whose large reads return at most READ_CAP bytes (smaller ones are untouched)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > READ_CAP:
            size = READ_CAP
        data: bytes = self._raw.read(size)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class SmallReadsHandler(WSGIRequestHandler):
    """werkzeug's request handler, discarding an unread body a megabyte at a time.

    Once the app has answered, werkzeug's development server reads and drops whatever the client is
    still sending (so the client sees the 413 rather than a reset) in 10 MB reads, and the
    allocator keeps those buffers. Reading a megabyte at a time keeps the server's own discarding
    from hiding what the app holds, which is what the test measures.
    """

    def setup(self) -> None:
        super().setup()
        self.rfile = _SmallReads(self.rfile)  # type: ignore[assignment]


def main(root: str) -> None:
    """Serve the app at root until stdin reaches end of file."""
    app = jitlite.App(root, environ={})
    server = make_server("127.0.0.1", 0, create_web_app(app), threaded=True, request_handler=SmallReadsHandler)
    print(server.server_port, flush=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
