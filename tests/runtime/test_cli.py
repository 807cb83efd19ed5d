"""The jitlite command: list, check, show, new."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

import jitlite
from jitlite.cli import main

from ..conftest import DEMO_APP


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_every_element_with_its_layer() -> None:
    code, out, _ = run("list", str(DEMO_APP))
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 4}
    assert "auths.QywxProxyTemp" in lines and "jitliteDemo" in lines["auths.QywxProxyTemp"]
    assert "official" in lines["auths.loginTypes.QywxProxyType"]
    assert "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService" in lines


def test_check_passes_on_the_demo_app() -> None:
    code, out, _ = run("check", str(DEMO_APP))
    assert code == 0
    assert out.startswith("OK: app 'jitliteDemo'")


def test_check_fails_with_every_problem(fixture_app: Callable[[str], Path]) -> None:
    code, _, err = run("check", str(fixture_app("many_problems")))
    assert code == 1
    assert "3 problems" in err
    assert "unknown type 'auths.loginTypes.QywxProxyTyp'" in err


def test_show_masks_secrets() -> None:
    code, out, _ = run("show", "auths.loginTypes.MyWeChatLogin", "--app", str(DEMO_APP))
    assert code == 0
    shown = json.loads(out)
    assert shown["declaration"]["appSecret"] == "******"
    assert shown["config"]["authConfig"] == {"appId": "wxsandboxapp00001", "appSecret": "******"}
    assert "sandbox-wechat-secret" not in out


def test_show_unknown_element() -> None:
    code, _, err = run("show", "auths.QywxProxyTmp", "--app", str(DEMO_APP))
    assert code == 1
    assert "did you mean 'auths.QywxProxyTemp'" in err


def test_new_writes_a_skeleton_that_passes_check_once_filled(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    code, out, _ = run("new", "auths.loginTypes.QywxProxyType", "auths.AcmeLogin", "--app", str(root))
    assert code == 0, out
    config_path = root / "auths" / "AcmeLogin" / "AcmeLogin.json"
    skeleton = json.loads(config_path.read_text())
    assert skeleton == {"authConfig": {"suiteId": "", "suiteSecret": "", "encodingAESKey": "", "token": ""},
                        "isActive": True, "corpId": None}
    code, _, err = run("check", str(root))
    assert code == 1
    assert "4 problems" in err and "authConfig.suiteSecret" in err
    skeleton["authConfig"] = {"suiteId": "tjAcme", "suiteSecret": "s", "token": "tok",
                              "encodingAESKey": "A" * 43}
    config_path.write_text(json.dumps(skeleton))
    code, out, _ = run("check", str(root))
    assert code == 0, out


def test_new_for_type_with_declaration_extras(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    assert run("new", "auths.loginTypes.WeChatType", "auths.loginTypes.Wx", "--app", str(root))[0] == 0
    declaration = json.loads((root / "auths/loginTypes/Wx/e.json").read_text())
    assert declaration == {"title": "Wx", "type": "auths.loginTypes.WeChatType", "appSecret": "",
                           "backendBundleEntry": ".", "frontBundleEntry": "./Wx.json"}
    assert run("new", "corps.QywxProxyType", "corps.Org", "--app", str(root))[0] == 0
    assert json.loads((root / "corps/Org/e.json").read_text())["version"] == "1.0.0"


def test_new_refuses_bad_input(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    code, _, err = run("new", "auths.loginTypes.QywxProxyTyp", "auths.X", "--app", str(root))
    assert code == 1 and "did you mean 'auths.loginTypes.QywxProxyType'" in err
    code, _, err = run("new", "auths.loginTypes.Meta", "auths.X", "--app", str(root))
    assert code == 1 and "it is a meta, not a Type" in err
    code, _, err = run("new", "auths.loginTypes.QywxProxyType", "../evil", "--app", str(root))
    assert code == 1 and "not a valid element fullName" in err
    run("new", "auths.loginTypes.QywxProxyType", "auths.Twice", "--app", str(root))
    code, _, err = run("new", "auths.loginTypes.QywxProxyType", "auths.Twice", "--app", str(root))
    assert code == 1 and "already exists" in err


def test_new_writes_the_class_of_a_type_whose_instances_bring_code(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="newservice")
    code, out, _ = run("new", "services.NormalType", "services.Billing", "--app", str(root))
    assert code == 0 and "services/Billing/__init__.py" in out.replace("\\", "/")
    init = (root / "services" / "Billing" / "__init__.py").read_text()
    assert init.startswith("from services.NormalType import NormalService\n\n\nclass Billing(NormalService):")
    assert run("check", str(root))[0] == 0
    assert type(jitlite.App(root, environ={}).getElement("services.Billing")).__name__ == "Billing"
