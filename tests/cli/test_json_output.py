"""--json output of list, check and show: machine-readable, secrets masked, problems with their fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from jitlite.cli import main

from ..conftest import DEMO_APP


def _json(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, json.loads(result.stdout)


def test_list_json_names_every_element() -> None:
    code, data = _json("list", "--json", "--app", str(DEMO_APP))
    assert code == 0
    assert data["appId"] == "jitliteDemo" and data["layers"][-1] == "jitliteDemo"
    rows = {row["fullName"]: row for row in data["elements"]}
    assert rows["auths.QywxProxyTemp"] == {"fullName": "auths.QywxProxyTemp", "kind": "instance",
                                           "type": "auths.loginTypes.QywxProxyType", "layer": "jitliteDemo",
                                           "title": "WeCom Proxy Development Login Configuration"}


def test_check_json_ok() -> None:
    code, data = _json("check", "--json", str(DEMO_APP))
    assert code == 0
    assert data["ok"] is True and data["problems"] == [] and data["elements"] > data["instances"] > 0


def test_check_json_lists_load_problems(fixture_app: Callable[[str], Path]) -> None:
    code, data = _json("check", "--json", "--app", str(fixture_app("many_problems")))
    assert code == 1
    assert data["ok"] is False and len(data["problems"]) == 3
    for problem in data["problems"]:
        assert set(problem) == {"element", "file", "field", "message", "fix"}
        assert problem["element"] and problem["file"] and problem["message"]


def test_check_json_lists_elements_that_cannot_be_built(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "services/Broken/e.json": {"title": "broken", "type": "services.NormalType", "backendBundleEntry": "."},
        "services/Broken/__init__.py": "import no_such_module_here\n",
    })
    code, data = _json("check", "--json", str(root))
    assert code == 1
    [problem] = data["problems"]
    assert problem["element"] == "services.Broken"
    assert "exports no class named 'Broken'" in problem["message"]
    assert "services/Broken" in problem["file"] and problem["fix"]


def test_show_json_masks_secrets() -> None:
    code, data = _json("show", "auths.QywxProxyTemp", "--json", "--app", str(DEMO_APP))
    assert code == 0
    assert data["fullName"] == "auths.QywxProxyTemp"
    text = json.dumps(data, ensure_ascii=False)
    assert "sandbox-suite-secret" not in text and "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" not in text
    assert data["config"]["authConfig"]["suiteId"] == "tjsandboxsuite0001"


def test_show_unknown_element_is_an_error() -> None:
    result = CliRunner().invoke(main, ["show", "auths.QywxProxyTmp", "--json", "--app", str(DEMO_APP)])
    assert result.exit_code == 1
    assert "did you mean 'auths.QywxProxyTemp'" in result.stderr
