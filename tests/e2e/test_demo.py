"""The demo runs end to end on a copy of the default app, twice (a second run finds its data)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

import jitlite
from jitlite.cli import main
from jitlite.cli.demo import run_demo

from ..conftest import DEMO_APP


def test_demo_runs_twice(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    console = Console(file=open(tmp_path / "out.txt", "w"), width=200)  # noqa: SIM115 - closed below
    try:
        first = run_demo(jitlite.App(root, environ={}), console)
        second = run_demo(jitlite.App(root, environ={}), console)
    finally:
        console.file.close()
    assert first["userId"] == first["workbenchUser"]
    assert second["userId"] == first["userId"]  # the member's identity survived the restart
    text = (tmp_path / "out.txt").read_text()
    assert "permanent code stored for wwsandboxcorp0001" in text
    for secret in ("sandbox-suite-secret", "sandbox-corp-secret", "sandbox-wechat-secret", "sandboxtoken"):
        assert secret not in text


def test_demo_command(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    result = CliRunner().invoke(main, ["demo", str(root)])
    assert result.exit_code == 0, result.output
    assert "Demo done: user u_" in result.output


def test_sandbox_command_refuses_contradictory_options() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--org", __file__, "--members", "5"])
    assert result.exit_code == 2 and "give --org or --members/--depts, not both" in result.output
