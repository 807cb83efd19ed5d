"""The sandbox as a real server: SandboxServer, build_state and serve() in its own process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from werkzeug.serving import make_server

from jitlite.sandbox.defaults import DEFAULT_AGENT_SECRET, DEFAULT_CORP_ID, DEFAULT_ORG, DEFAULT_SUITE_ID
from jitlite.sandbox.errors import SandboxError
from jitlite.sandbox.server import SandboxServer, build_state
from jitlite.sandbox.testing import RecordingReceiver


def test_sandbox_server_answers_over_http() -> None:
    with SandboxServer() as server, httpx.Client(base_url=server.url, timeout=5) as client:
        assert server.url.startswith("http://127.0.0.1:")
        answer = client.get("/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID,
                                                         "corpsecret": DEFAULT_AGENT_SECRET}).json()
        assert answer["errcode"] == 0
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=1) as client:
        client.get(f"{server.url}/sandbox/clock")


def test_build_state_from_a_file_a_generator_or_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    org = json.loads(json.dumps(DEFAULT_ORG))
    org["corps"][0]["corp_name"] = "文件公司"
    path.write_text(json.dumps(org, ensure_ascii=False), encoding="utf-8")
    assert build_state(path).org.corps[DEFAULT_CORP_ID].corp_name == "文件公司"
    generated = build_state(members=500, depts=20, seed=4).org.corps[DEFAULT_CORP_ID]
    assert (len(generated.members), len(generated.departments)) == (500, 20)
    assert len(build_state().org.corps[DEFAULT_CORP_ID].members) == 10
    with_url = build_state(callback_url="http://127.0.0.1:9/cb")
    assert with_url.suites[DEFAULT_SUITE_ID].callback_url == "http://127.0.0.1:9/cb"
    with pytest.raises(SandboxError, match="not both"):
        build_state(path, members=5)


@pytest.fixture
def receiver_url() -> Iterator[tuple[str, RecordingReceiver]]:
    """Serve a RecordingReceiver over real HTTP."""
    recorder = RecordingReceiver()
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cb", recorder
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_serve_runs_pushes_a_ticket_on_start_and_stops_on_interrupt(
        receiver_url: tuple[str, RecordingReceiver]) -> None:
    url, recorder = receiver_url
    code = ("from jitlite.sandbox.server import serve; "
            f"serve('127.0.0.1', 0, members=50, depts=5, ticket_interval=600, callback_url={url!r})")
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", banner)
        assert match, banner
        with httpx.Client(base_url=match.group(1), timeout=5) as client:
            assert client.get("/sandbox/").json()["corps"][0]["members"] == 50
        deadline = time.monotonic() + 10
        while not recorder.received:
            assert time.monotonic() < deadline, "no suite_ticket pushed on start"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0  # generous: CI machines are shared and slow
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
