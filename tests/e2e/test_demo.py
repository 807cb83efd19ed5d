"""jitlite demo: the sandbox and the app served together; --once completes the flow and a login, then exits."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from jitlite.cli import main

from ..conftest import DEMO_APP

_BOUND = 60.0  # seconds the headless demo may take, start-up included


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    return root


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jitlite", "demo", "--once", *args], capture_output=True,
                          text=True, timeout=_BOUND, check=False, env={**os.environ, "COLUMNS": "200"})


def test_demo_once_completes_within_its_bound_twice(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    started = time.monotonic()
    first = _demo("--app", str(root), "--timeout", "50")
    assert first.returncode == 0, first.stdout + first.stderr
    assert time.monotonic() - started < _BOUND
    out = first.stdout
    assert re.search(r"http://127\.0\.0\.1:\d+/callbacks/qywx-proxy/auths\.QywxProxyTemp verified", out)
    assert "suite_ticket stored" in out and "permanent code stored for wwsandboxcorp0001" in out
    assert "synced: 10 members, 5 departments" in out
    assert re.search(r"Login page: +http://127\.0\.0\.1:\d+/login", out)
    assert "/wwlogin/sso/login" in out and "shows 王芳" in out
    assert "Demo OK in" in out and "wangfang logged in" in out
    for secret in ("sandbox-suite-secret", "sandbox-corp-secret", "sandbox-wechat-secret", "sandboxtoken"):
        assert secret not in out + first.stderr
    # A second run finds the first one's data (the corp, the member) and completes again.
    second = _demo("--app", str(root), "--member", "lina")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "shows 李娜" in second.stdout


def test_demo_serves_until_sigterm(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "jitlite", "demo", "--app", str(root)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        login_url = sandbox_url = None
        deadline = time.monotonic() + _BOUND
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if match := re.search(r"Login page: +(\S+)", line):
                login_url = match.group(1)
            if match := re.search(r"Sandbox page: +(\S+)", line):
                sandbox_url = match.group(1)
            if "Serving until Ctrl-C" in line:
                break
        assert login_url and sandbox_url
        page = httpx.get(login_url, timeout=10)
        assert page.status_code == 200 and "auths.QywxProxyTemp" in page.text
        front = httpx.get(sandbox_url, timeout=10)
        assert front.status_code == 200 and "wangfang" in front.text and "last verification: passed" in front.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def test_demo_needs_a_proxy_login_element(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path / "plain")]).exit_code == 0
    result = CliRunner().invoke(main, ["demo", "--once", "--app", str(tmp_path / "plain")])
    assert result.exit_code == 1
    assert "has no auths.loginTypes.QywxProxyType login element" in result.output


def test_demo_refuses_an_unknown_member(tmp_path: Path) -> None:
    result = _demo("--app", str(_copy(tmp_path)), "--member", "nobody")
    assert result.returncode == 1
    assert "has no member 'nobody'" in result.stdout + result.stderr


def test_sandbox_command_refuses_contradictory_options() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--org", __file__, "--members", "5"])
    assert result.exit_code == 2 and "give --org or --members/--depts, not both" in result.output


def test_demo_in_process_leaves_signals_and_logging_as_they_were(tmp_path: Path) -> None:
    import logging

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), logging.getLogger("werkzeug").level)
    result = CliRunner().invoke(main, ["demo", "--once", "--app", str(_copy(tmp_path)), "--timeout", "50"])
    assert result.exit_code == 0, result.output
    assert "Demo OK in" in result.output
    after = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), logging.getLogger("werkzeug").level)
    assert after == before
