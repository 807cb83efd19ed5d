"""Start-up problems: one fixture app per failure mode, asserting the message a user reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite
from jitlite import ElementLoadError


def load_error(path: Path) -> ElementLoadError:
    with pytest.raises(ElementLoadError) as caught:
        jitlite.App(path, environ={})
    return caught.value


def test_bad_json_reports_line_and_column(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("bad_json"))
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.full_name == "auths.Broken"
    assert problem.path.endswith("bad_json/auths/Broken/e.json")
    assert problem.where == "line 4, column 1"
    assert "invalid JSON: Expecting property name enclosed in double quotes" in str(error)
    assert "no trailing commas" in problem.fix


def test_missing_title(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("no_title"))
    [problem] = error.problems
    assert (problem.full_name, problem.where) == ("auths.NoTitle", "title")
    assert problem.message == "required field 'title' is missing"
    assert problem.fix == 'add "title" to the file'
    assert problem.path.endswith("no_title/auths/NoTitle/e.json")


def test_missing_business_config(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("missing_config"))
    [problem] = error.problems
    assert problem.message == "the business config file is missing"
    assert problem.path.endswith("missing_config/auths/NoConfig/NoConfig.json")
    assert "jitlite new auths.loginTypes.QywxProxyType auths.NoConfig" in problem.fix


def test_unknown_type_suggests_the_closest(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("unknown_type"))
    [problem] = error.problems
    assert problem.message == "unknown type 'auths.loginTypes.QywxProxyTyp'"
    assert problem.fix.startswith("did you mean 'auths.loginTypes.QywxProxyType'")
    assert problem.where == "type"


def test_invalid_field_values_are_each_reported(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("invalid_field_type"))
    by_where = {p.where: p for p in error.problems}
    assert set(by_where) == {"authConfig.encodingAESKey", "isActive", "corpID"}
    assert "got 8 characters" in by_where["authConfig.encodingAESKey"].message
    assert by_where["isActive"].fix == "use true or false here"
    assert by_where["corpID"].message == "unknown field 'corpID'"
    assert by_where["corpID"].fix == "did you mean 'corpId'?"
    for problem in error.problems:
        assert problem.path.endswith("invalid_field_type/auths/BadFields/BadFields.json")


def test_invalid_values_never_echo_secrets(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
        "auths/L/L.json": {"authConfig": {"suiteId": "tj1", "suiteSecret": 12345,
                                          "encodingAESKey": "leaked-aes-key-value", "token": "bad token!"}},
    })
    text = str(load_error(root))
    assert "leaked-aes-key-value" not in text and "bad token!" not in text
    assert "authConfig.suiteSecret" in text and "authConfig.token" in text


def test_missing_variables(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("missing_variable"))
    messages = sorted(p.message for p in error.problems)
    assert messages == [
        "placeholder {{undeclaredSuiteId}} names a variable that is not declared and has no value",
        "required variable 'suiteSecret' has no value",
    ]
    required = next(p for p in error.problems if "required" in p.message)
    assert required.where == "variables.suiteSecret"
    assert "set suiteSecret in the environment, or under [variables] in" in required.fix


def test_missing_required_variable_is_satisfied_by_the_environment(fixture_app: Callable[[str], Path]) -> None:
    app = jitlite.App(fixture_app("missing_variable"),
                      environ={"suiteSecret": "from-env", "undeclaredSuiteId": "tj9"})
    login = app.getElement("auths.NeedsVars")
    assert login.config.authConfig.suiteSecret.get_secret_value() == "from-env"
    assert login.suiteId == "tj9"


def test_duplicate_full_name_in_one_layer(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("duplicate_in_layer"))
    [problem] = error.problems
    assert problem.full_name == "auths.login"
    assert "defined twice in layer 'duplicate_in_layer': also as auths.Login" in problem.message


def test_all_problems_are_reported_at_once(fixture_app: Callable[[str], Path]) -> None:
    error = load_error(fixture_app("many_problems"))
    text = str(error)
    assert text.startswith("jitlite could not load app 'many_problems': 3 problems")
    assert "1. " in text and "2. " in text and "3. " in text
    names = sorted(p.full_name for p in error.problems)
    assert names == ["auths.A", "auths.B", "corps.C"]
    corp = next(p for p in error.problems if p.full_name == "corps.C")
    assert corp.where == "authFullName"
    assert "refers to 'auths.Nope', which is not an element of this app" in corp.message


def test_reference_to_an_element_of_the_wrong_type(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "corps/C/e.json": {"title": "C", "type": "corps.QywxProxyType"},
        "corps/C/C.json": {"corpId": "ww1", "authFullName": "auths.loginTypes.MyWeChat"},
        "auths/loginTypes/MyWeChat/e.json": {"title": "W", "type": "auths.loginTypes.WeChatType",
                                             "appSecret": "x", "backendBundleEntry": ".",
                                             "frontBundleEntry": "./MyWeChat.json"},
        "auths/loginTypes/MyWeChat/MyWeChat.json": {"authConfig": {"appId": "wx1", "appSecret": "x"}},
    })
    [problem] = load_error(root).problems
    assert problem.message == ("refers to 'auths.loginTypes.MyWeChat', whose type is auths.loginTypes.WeChatType, "
                               "not auths.loginTypes.QywxProxyType")


def test_no_app_json(tmp_path: Path) -> None:
    [problem] = load_error(tmp_path).problems
    assert "there is no app.json here" in problem.message
    assert '"appId"' in problem.fix


def test_bad_app_json(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="bad-id")
    [problem] = load_error(root).problems
    assert problem.where == "appId"


def test_extends_a_missing_app(make_app: Callable[..., Path]) -> None:
    root = make_app({}, extends=["../nowhere"])
    [problem] = load_error(root).problems
    assert problem.where == "extends[0]"
    assert "holds no app.json" in problem.message


def test_extends_cycle(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        manifest = {"appId": name, "title": name, "extends": [f"../{other}"]}
        (tmp_path / name / "app.json").write_text(json.dumps(manifest))
    error = load_error(tmp_path / "a")
    assert any("'extends' forms a cycle" in p.message for p in error.problems)


def test_folder_name_that_cannot_be_a_full_name(make_app: Callable[..., Path]) -> None:
    root = make_app({"auths/my-login/e.json": {"title": "x", "type": "auths.loginTypes.QywxProxyType"}})
    [problem] = load_error(root).problems
    assert problem.message == "folder name 'my-login' cannot be part of an element fullName"


def test_type_cycle_and_instance_as_type(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "things/A/e.json": {"title": "A", "type": "things.B"},
        "things/B/e.json": {"title": "B", "type": "things.A"},
        "auths/I/e.json": {"title": "I", "type": "auths.QywxLike"},
        "auths/QywxLike/e.json": {"title": "Q", "type": "auths.loginTypes.QywxProxyType"},
        "auths/QywxLike/QywxLike.json": {"authConfig": {"suiteId": "tj1", "suiteSecret": "s",
                                                       "encodingAESKey": "a" * 43, "token": "t"}},
    })
    messages = [p.message for p in load_error(root).problems]
    assert any("loops back to itself" in m for m in messages)
    assert "type 'auths.QywxLike' is an instance, not a Type" in messages
