"""jitlite serve: the development server answers the app's routes and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from jitlite.cli import main

from ..conftest import DEMO_APP


def _copy(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    return root


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "jitlite", "serve", str(root), "--port", "0", "--quiet"],
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        page = httpx.get(f"{url}/login", timeout=10)
        assert page.status_code == 200 and "auths.QywxProxyTemp" in page.text
        assert httpx.get(f"{url}/no/such/page", timeout=10).status_code == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "stopped" in process.stderr.read()
        with socket.socket() as probe:  # the port is released
            assert probe.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1]))) != 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_serve_on_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = CliRunner().invoke(main, ["serve", "--app", str(root), "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
    assert time.monotonic() - started < 10


def test_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", str(_copy(tmp_path)), "--port", "70000"])
    assert result.exit_code == 2 and "--port" in result.output
