"""Every command takes the app the same way: --app PATH or APP, else ./elements, else the current folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jitlite.cli import main

from ..conftest import DEMO_APP


def _copy_demo(to: Path) -> Path:
    shutil.copytree(DEMO_APP, to, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    return to


def _list(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["list", "--json", *args])
    return result.exit_code, result.output


def test_default_is_the_elements_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _copy_demo(tmp_path / "elements")
    monkeypatch.chdir(tmp_path)
    code, out = _list()
    assert code == 0, out
    assert json.loads(out)["appId"] == "jitliteDemo"


def test_default_is_the_current_folder_when_it_has_app_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_copy_demo(tmp_path / "myapp"))
    code, out = _list()
    assert code == 0, out
    assert json.loads(out)["appId"] == "jitliteDemo"


def test_no_app_here_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["list"], ["check"], ["show", "auths.QywxProxyTemp"], ["callbacks"], ["serve"], ["demo"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, (command, result.output)
        assert "no app here" in result.output and "--app PATH" in result.output and "jitlite init" in result.output


def test_app_option_and_positional_agree(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path / "a")
    assert _list("--app", str(root))[0] == 0
    assert _list(str(root))[0] == 0
    assert _list(str(root), "--app", str(root))[0] == 0
    other = _copy_demo(tmp_path / "b")
    code, out = _list(str(root), "--app", str(other))
    assert code == 2 and "give the app once" in out


def test_app_option_errors_name_the_folder(tmp_path: Path) -> None:
    code, out = _list("--app", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in out
    (tmp_path / "empty").mkdir()
    code, out = _list("--app", str(tmp_path / "empty"))
    assert code == 2 and "holds no app.json" in out


def test_python_dash_m_jitlite_runs_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "jitlite", "check", "--app", str(DEMO_APP)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: app 'jitliteDemo'")
    usage = subprocess.run([sys.executable, "-m", "jitlite", "--help"], capture_output=True, text=True, timeout=60,
                           check=False)
    assert "Usage: jitlite" in usage.stdout
    for command in ("callbacks", "demo", "init", "serve", "list", "check", "show"):
        assert command in usage.stdout
