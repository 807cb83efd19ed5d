"""A sync process killed mid-way, then a clean re-sync; and the ``jitlite sync`` command. Real sockets:
the sandbox serves on loopback and the syncing process is another process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli import main
from jitlite.runtime import clock
from jitlite.sandbox import SandboxServer, SandboxState, generate_corp
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.storage import Q
from jitlite.wecom.orgsync import OrgSyncBusy

from ..conftest import DEMO_APP, ROOT

CORP_ELEMENT = "corps.MyQywxProxyCorp"
PROXY = "auths.QywxProxyTemp"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    """The sandbox on a loopback port, with a 300-member corp over 30 departments."""
    corp = generate_corp(300, 30, corp_id=DEFAULT_CORP_ID, corp_name="沙盒科技")
    state = SandboxState.with_defaults({"corps": []}, push_backoff=0.0)
    state.add_corp(corp)
    with SandboxServer(state) as running:
        yield running


@pytest.fixture
def app_root(tmp_path: Path, server: SandboxServer) -> Path:
    """The default app pointed at the server, with the corp authorised (as its callbacks would have done)."""
    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    manifest = json.loads((root / "app.json").read_text(encoding="utf-8"))
    manifest["settings"].update(wecomBaseUrl=server.url, orgSyncBatchSize=10, orgSyncConcurrency=2)
    (root / "app.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    app = jitlite.App(root, environ={})
    login = app.getElement(PROXY)
    ticket = server.state.issue_suite_ticket(DEFAULT_SUITE_ID)
    login.saveSuiteTicket(ticket.value, time.time())
    code = server.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, push=False)
    login.applyAuthCode(code.value, time.time())
    return root


SYNC_SCRIPT = """
import sys, jitlite
app = jitlite.App(sys.argv[1], environ={})
app.getElement("corps.MyQywxProxyCorp").syncCorp()
"""


def test_killed_sync_process_then_a_clean_resync(app_root: Path, server: SandboxServer) -> None:
    # Each department's member list takes a while, so the process is killed mid-way.
    server.state.add_fault("/cgi-bin/user/list", latency=0.05)
    process = subprocess.Popen([sys.executable, "-c", SYNC_SCRIPT, str(app_root)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = jitlite.App(app_root, environ={})
    corp = app.getElement(CORP_ELEMENT)
    members = corp.orgStore.members
    try:
        deadline = time.monotonic() + 30
        while members.query(Q(corpFullName=CORP_ELEMENT), size=1)["totalCount"] < 40:
            assert process.poll() is None and time.monotonic() < deadline, "the sync ended before it was killed"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait(10)
    # What the killed run wrote is readable, and whole rows; nothing was offlined or deleted.
    partial = corp.getMembers()
    assert 40 <= len(partial) < 300 and all(m.name and m.deptIds and m.status for m in partial)
    depts_before = len(corp.getDepts())
    state = corp.orgStore.syncState.get(Q(corpFullName=CORP_ELEMENT))
    assert state.status == "running" and state.leaseOwner  # its lease outlives it …
    server.state.clear_faults()
    with pytest.raises(OrgSyncBusy, match="already running"):
        corp.syncCorp()
    # … until it expires; then the next sync converges on the whole org, writing only what is missing.
    with clock.use_clock(lambda: (state.leaseUntil + timedelta(seconds=1)).timestamp()):
        report = corp.syncCorp()
    assert report["created"] == (300 - len(partial)) + (30 - depts_before)
    assert (report["updated"], report["offline"], report["deleted"]) == (0, 0, 0)
    assert len(corp.getMembers()) == 300 and len(corp.getDepts()) == 30
    expected = {m.userid: m.name for m in server.state.corp(DEFAULT_CORP_ID).members.values()}
    assert {m.memberId: m.name for m in corp.getMembers()} == expected
    assert corp.syncCorp()["rowsWritten"] == 0


def test_sync_command(app_root: Path, server: SandboxServer) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["sync", CORP_ELEMENT, "--app", str(app_root)])
    assert result.exit_code == 0, result.output
    assert "Organisation sync" in result.output and CORP_ELEMENT in result.output
    row = next(line for line in result.output.splitlines() if CORP_ELEMENT in line and "│" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[2:8] == ["330", "0", "0", "0", "0", str(3 + 30)] and cells[-1] == "ok"
    again = runner.invoke(main, ["sync", "--corp", DEFAULT_CORP_ID, "--app", str(app_root)])
    assert again.exit_code == 0, again.output
    row = next(line for line in again.output.splitlines() if CORP_ELEMENT in line and "│" in line)
    assert [c.strip() for c in row.split("│") if c.strip()][2:7] == ["0", "0", "0", "0", "0"]
    every = runner.invoke(main, ["sync", "--all", "--app", str(app_root)])
    assert every.exit_code == 0 and CORP_ELEMENT in every.output
    # Usage errors name what is wrong.
    for args, message in ((["sync", "--app", str(app_root)], "name one organisation"),
                          (["sync", "corps.Nope", "--app", str(app_root)], "corps.Nope"),
                          (["sync", PROXY, "--app", str(app_root)], "is not an organisation"),
                          (["sync", "--corp", "wwnobody", "--app", str(app_root)], "no organisation")):
        failed = runner.invoke(main, args)
        assert failed.exit_code == 2 and message in failed.output, failed.output
    # A failing organisation makes the command exit 1 with the reason.
    server.state.cancel_auth(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, push=False)
    app = jitlite.App(app_root, environ={})
    app.getElement(PROXY).applyCancelAuth(DEFAULT_CORP_ID, time.time())
    failed = runner.invoke(main, ["sync", CORP_ELEMENT, "--app", str(app_root)])
    assert failed.exit_code == 1 and "CorpNotAuthorized" in failed.output
