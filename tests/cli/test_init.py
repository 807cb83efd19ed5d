"""jitlite init: a new app that passes jitlite check at once, with its key private and ignored by git."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def test_init_then_check_passes(tmp_path: Path) -> None:
    folder = tmp_path / "my-new_app"
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((folder / "app.json").read_text())
    assert manifest["appId"] == "myNewApp"
    check = CliRunner().invoke(main, ["check", "--app", str(folder)])
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith("OK: app 'myNewApp'")
    # The login element's placeholders are filled from the variables jitlite.toml sets.
    with jitlite.App(folder, environ={}) as app:
        login = app.getElement("auths.loginTypes.QywxLogin")
        assert login.corpId == "wwsandboxcorp0001"
        assert app.instancesOf("auths.loginTypes.QywxInnerType") == ["auths.loginTypes.QywxLogin"]


def test_init_writes_a_private_key_and_a_gitignore(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path / "app")]).exit_code == 0
    toml = tmp_path / "app" / "jitlite.toml"
    assert stat.S_IMODE(toml.stat().st_mode) == 0o600
    key = tomllib.loads(toml.read_text())["variables"]["JITLITE_SECRET_KEY"]
    from cryptography.fernet import Fernet

    Fernet(key)  # a usable key
    ignored = (tmp_path / "app" / ".gitignore").read_text().splitlines()
    assert "jitlite.toml" in ignored and "appData/" in ignored
    # Two apps never share a key.
    assert CliRunner().invoke(main, ["init", str(tmp_path / "other")]).exit_code == 0
    assert tomllib.loads((tmp_path / "other" / "jitlite.toml").read_text())["variables"]["JITLITE_SECRET_KEY"] != key


def test_init_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--app-id", "wanyun.Crm", "--title", "CRM"])
    assert result.exit_code == 0, result.output
    assert json.loads(Path("app.json").read_text())["appId"] == "wanyun.Crm"
    assert CliRunner().invoke(main, ["check"]).exit_code == 0  # found as the current folder's app


def test_init_refuses_to_overwrite_an_app(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    before = (tmp_path / "jitlite.toml").read_text()
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "never overwrites an app" in result.output and "app.json" in result.output
    assert (tmp_path / "jitlite.toml").read_text() == before


def test_init_refuses_a_bad_app_id(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "x"), "--app-id", "my-app"])
    assert result.exit_code == 2 and "--app-id" in result.output
    assert not (tmp_path / "x").exists()
