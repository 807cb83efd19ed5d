"""Variables: declared defaults < jitlite.toml < environment; settings; placeholders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jitlite

from ..conftest import PROXY_CONFIG  # type: ignore[import-not-found]


def variable_app(make_app: Callable[..., Path]) -> Path:
    config = {"authConfig": {**PROXY_CONFIG["authConfig"], "suiteId": "{{suiteId}}", "suiteSecret": "{{secret}}"},
              "corpId": "{{ corpId }}"}
    return make_app(
        {"auths/V/e.json": {"title": "V", "type": "auths.loginTypes.QywxProxyType",
                            "variables": [{"name": "corpId", "value": "wwFromElement"}]},
         "auths/V/V.json": config},
        app_id="vars",
        variables=[{"name": "suiteId", "value": "tjDeclared"}, {"name": "secret", "value": "declared-secret"}],
        settings={"wecomBaseUrl": "https://qyapi.weixin.qq.com", "timeout": 5},
    )


def test_declared_defaults(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(variable_app(make_app), environ={})
    assert app.envVars == {"suiteId": "tjDeclared", "secret": "declared-secret", "corpId": "wwFromElement"}
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
    assert app.settings == {"wecomBaseUrl": "https://qyapi.weixin.qq.com", "timeout": 9}


def test_values_with_quotes_and_unicode_are_inserted_safely(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(variable_app(make_app), environ={"secret": 'a"b\\c\n企业'})
    assert app.getElement("auths.V").config.authConfig.suiteSecret.get_secret_value() == 'a"b\\c\n企业'
