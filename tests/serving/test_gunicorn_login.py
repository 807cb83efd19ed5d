"""The default app under ``gunicorn -w 2``: QR logins succeed across worker processes, the default cache shared.

With a per-process cache, a login's state issued by one worker is unknown to the other, so about half
the logins failed with "state expired"; with the default SQLite cache every login succeeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import jitlite
from jitlite.cli.demo import _Deadline, _login
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.server import SandboxServer
from jitlite.sandbox.state import SandboxState
from jitlite.types.caches.MemoryType import MemoryCacheType
from jitlite.web.serving import shared_state_warnings

from ..conftest import DEMO_APP, ROOT
from ..topology import local_topology, need_modules

PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
LOGINS = 8


@pytest.fixture
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(SandboxState.with_defaults(), host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


def write_app(root: Path, sandbox_url: str) -> Path:
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    hosts = "\n".join(f'{key} = "{sandbox_url}"' for key in
                      ("wecomBaseUrl", "wecomLoginBaseUrl", "wechatBaseUrl", "wechatOpenBaseUrl"))
    (root / "jitlite.toml").write_text(f'[settings]\n{hosts}\nadmins = ["{DEFAULT_CORP_ID}:wangfang"]\n')
    return root


def wait_done(root: Path, info_type: str, deadline: float) -> None:
    """Wait until the served app has processed a callback of ``info_type`` (read from its database)."""
    with jitlite.App(root, environ={}) as app:
        records = app.getElement(f"{SERVICE.rsplit('.services', 1)[0]}.QywxProxyCallbackModel")
        while time.monotonic() < deadline:
            if records.get(f"Q(infoType='{info_type}', status='done')") is not None:
                return
            time.sleep(0.2)
    raise AssertionError(f"the served app did not process {info_type} in time")


@pytest.mark.slow
def test_qr_logins_under_two_gunicorn_workers_with_the_default_cache(
        tmp_path: Path, sandbox_server: SandboxServer) -> None:
    need_modules("gunicorn")
    root = write_app(tmp_path / "app", sandbox_server.url)
    port = local_topology.free_port()
    env = {**os.environ, "JITLITE_APP": str(root), "JITLITE_BIND": f"127.0.0.1:{port}",
           "JITLITE_WORKERS": "2", "JITLITE_THREADS": "4"}
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    app_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{app_url}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("gunicorn did not answer within 60 s")
        with httpx.Client(base_url=sandbox_server.url, timeout=10) as admin:
            url = f"{app_url}/callbacks/qywx-proxy/{PROXY}"
            admin.post(f"/sandbox/suites/{DEFAULT_SUITE_ID}/callback-url", json={"callback_url": url}
                       ).raise_for_status()
            admin.post(f"/sandbox/suites/{DEFAULT_SUITE_ID}/ticket").raise_for_status()
            wait_done(root, "suite_ticket", deadline)
            admin.post("/sandbox/authorizations", json={"suite_id": DEFAULT_SUITE_ID, "corp_id": DEFAULT_CORP_ID}
                       ).raise_for_status()
            wait_done(root, "create_auth", deadline)
        served_by = set()
        for _ in range(LOGINS):
            result = _login(app_url, sandbox_server.url, PROXY, DEFAULT_CORP_ID, "wangfang", "王芳", _Deadline(30))
            assert result["session"]["corpId"] == DEFAULT_CORP_ID
            served_by.add(result["page"])
        assert served_by == {f"{app_url}/me"}
    finally:
        gunicorn.terminate()
        output, _ = gunicorn.communicate(timeout=30)
    text = output.decode("utf-8", "replace")
    assert "in-process cache" not in text  # the default cache is shared: no warning
    assert text.count("Booting worker") >= 2


def test_an_in_process_cache_served_by_several_processes_is_warned_about(tmp_path: Path) -> None:
    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    (root / "caches" / "Default").mkdir(parents=True)
    (root / "caches" / "Default" / "e.json").write_text('{"title": "Cache", "type": "caches.MemoryType"}')
    with jitlite.App(root, environ={}) as app:
        assert isinstance(app.defaultCache(), MemoryCacheType)
        assert shared_state_warnings(app, 1) == []
        (warning,) = shared_state_warnings(app, 4)
        assert "caches.Default is an in-process cache" in warning and "4 processes" in warning
        assert "caches.SqliteType" in warning and "caches.RedisType" in warning
    with jitlite.App(write_app(tmp_path / "shared", "http://127.0.0.1:9"), environ={}) as app:
        assert shared_state_warnings(app, 4) == []
