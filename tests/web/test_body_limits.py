"""Oversized bodies over real HTTP: refused with 413 while the server's memory stays flat.

The server is werkzeug's, in a child process (``serve_app.py``), which discards a refused body's
unread rest in small reads; see SmallReadsHandler there for why.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PROXY, copy_demo

HUGE = 256 * 1024 * 1024  # bytes offered per request
CHUNK = b"x" * (1024 * 1024)
RSS_GROWTH_LIMIT_KIB = 20 * 1024


def memory_kib(pid: int) -> tuple[int, int]:
    """Return a process's resident set size and its peak (VmRSS, VmHWM) in KiB, from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


def huge_body() -> Iterator[bytes]:
    """Yield HUGE bytes a megabyte at a time (the same buffer: the client holds one megabyte)."""
    for _ in range(HUGE // len(CHUNK)):
        yield CHUNK


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Start the demo app's web layer in a child process; yield its base URL and pid."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's memory")
    root = copy_demo(tmp_path / "demo")
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("serve_app.py")), str(root)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the server did not start: {(tmp_path / 'server.log').read_text()}"
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def test_huge_bodies_are_refused_with_413_without_being_read(server: tuple[str, int]) -> None:
    base, pid = server
    callback = f"{base}/callbacks/qywx-proxy/{PROXY}?nonce=n&timestamp=1&msg_signature=s"
    session = f"{base}/auth/session"
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(timeout=30) as client:
        # Warm up: every route builds its elements and imports its code before the baseline.
        for _ in range(3):
            assert client.post(callback, content=b"<xml>not a callback</xml>").status_code == 400
            assert client.post(session, content=b'{"loginCode": "nope"}', headers=json_type).status_code == 401
        rss_before, peak_before = memory_kib(pid)
        for url, headers in ((callback, {}), (session, json_type)):
            for framing in ({"Content-Length": str(HUGE)}, {}):  # declared length, then chunked
                response = client.post(url, content=huge_body(), headers={**headers, **framing})
                assert response.status_code == 413, (url, framing, response.text)
                assert "larger than" in response.json()["error"]
        rss_after, peak_after = memory_kib(pid)
        # The server is still serving.
        assert client.post(session, content=b'{"loginCode": "nope"}', headers=json_type).status_code == 401
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_KIB, f"server RSS grew from {rss_before} to {rss_after} KiB"
    # Not even for a moment: the peak did not grow by a body's worth either.
    assert peak_after - peak_before < RSS_GROWTH_LIMIT_KIB, f"peak RSS grew from {peak_before} to {peak_after} KiB"
