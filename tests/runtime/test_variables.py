"""Variables: declared defaults < jitlite.toml < environment; settings; placeholders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import jitlite

from ..conftest import PROXY_CONFIG


def variable_app(make_app: Callable[..., Path]) -> Path:
    config = {"authConfig": {**PROXY_CONFIG["authConfig"], "suiteId": "{{suiteId}}", "suiteSecret": "{{secret}}"},
              "corpId": "{{ corpId }}"}
    return make_app(
        {"auths/V/e.json": {"title": "V", "type": "auths.loginTypes.QywxProxyType",
                            "variables": [{"name": "corpId", "value": "wwFromElement"}]},
         "auths/V/V.json": config},
        app_id="vars",
        variables=[{"name": "suiteId", "value": "tjDeclared"}, {"name": "secret", "value": "declared-secret"}],
        settings={"wecomBaseUrl": "https://qyapi.weixin.qq.com", "timeout": 5, "secretKeyFile": "appData/secret.key"},
    )


def test_declared_defaults(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(variable_app(make_app), environ={})
    own = {k: v for k, v in app.envVars.items() if k in ("suiteId", "secret", "corpId")}
    assert own == {"suiteId": "tjDeclared", "secret": "declared-secret", "corpId": "wwFromElement"}
    assert app.envVars["DATABASE_URL"] == ""  # declared by the official databases.Default
    login = app.getElement("auths.V")
    assert (login.suiteId, login.corpId) == ("tjDeclared", "wwFromElement")


def test_toml_beats_declared_and_environment_beats_toml(make_app: Callable[..., Path]) -> None:
    root = variable_app(make_app)
    (root / "jitlite.toml").write_text(
        '[variables]\nsuiteId = "tjToml"\nsecret = "toml-secret"\n\n[settings]\ntimeout = 9\n')
    app = jitlite.App(root, environ={"secret": "env-secret", "PATH": "/usr/bin"})
    assert app.envVars["suiteId"] == "tjToml"
    assert app.envVars["secret"] == "env-secret"
    assert "PATH" not in app.envVars  # only the app's own variables, never the whole environment
    assert app.getElement("auths.V").config.authConfig.suiteSecret.get_secret_value() == "env-secret"
    assert app.settings == {"wecomBaseUrl": "https://qyapi.weixin.qq.com", "timeout": 9,
                            "secretKeyFile": "appData/secret.key"}


def test_values_with_quotes_and_unicode_are_inserted_safely(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(variable_app(make_app), environ={"secret": 'a"b\\c\n企业'})
    assert app.getElement("auths.V").config.authConfig.suiteSecret.get_secret_value() == 'a"b\\c\n企业'


def test_secret_key_is_required_where_a_login_type_is_used(make_app: Callable[..., Path]) -> None:
    root = make_app({"auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/L/L.json": PROXY_CONFIG}, app_id="nokey", settings={})
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(root, environ={})
    [problem] = caught.value.problems
    assert problem.full_name == "auths.loginTypes.QywxProxyType"
    assert problem.message == "required variable 'JITLITE_SECRET_KEY' has no value"
    assert "jitlite keygen" in problem.fix
    # An app that uses no login Type does not need it.
    bare = make_app({}, app_id="bare", settings={})
    assert "JITLITE_SECRET_KEY" not in jitlite.App(bare, environ={}).envVars


def test_secret_key_file_is_generated_once_and_kept(make_app: Callable[..., Path]) -> None:
    root = make_app({"auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/L/L.json": PROXY_CONFIG}, app_id="keyfile")
    first = jitlite.App(root, environ={}).envVars["JITLITE_SECRET_KEY"]
    key_file = root / "appData" / "secret.key"
    assert key_file.read_text().strip() == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert jitlite.App(root, environ={}).envVars["JITLITE_SECRET_KEY"] == first
    from_env = Fernet.generate_key().decode()
    assert jitlite.App(root, environ={"JITLITE_SECRET_KEY": from_env}).envVars["JITLITE_SECRET_KEY"] == from_env
