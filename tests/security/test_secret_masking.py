"""Secret variables stay readable to code but are masked in envVars' repr, `jitlite show` and errors."""

from __future__ import annotations

import json
import pickle
import pprint
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli import main
from jitlite.runtime.schema import MASK

SECRETS = {
    "SMTP_PASSWORD": "pw-by-name-8d1f",  # secret by its name
    "webhookAddress": "https://hooks.example/T0/B0/s3cr3tpath",  # declared "secret": true
    "mailPass": "pass-by-field-77ac",  # feeds a SecretStr field of the Type's schema
    "mailApiToken": "tok-in-ejson-4410",  # secret by name, its default declared in e.json
}
PLAIN = {"siteTitle": "Acme portal", "mailUser": "robot@acme.example"}

MAILER_SCHEMA = """
from pydantic import SecretStr
from jitlite.runtime.schema import ConfigModel

class Config(ConfigModel):
    server: str
    user: str
    password: SecretStr
"""
MAILER_CODE = """
from jitlite.meta.services import Service

class Mailer(Service):
    def onLoad(self):
        raise RuntimeError(f"login refused for {self.config.user} with {self.config.password.get_secret_value()} "
                           f"at {self.config.server}")
"""


@pytest.fixture
def mail_app(make_app: Callable[..., Path]) -> Path:
    return make_app(
        {
            "services/MailerType/e.json": {"title": "Mailer", "type": "services.Meta", "className": "Mailer"},
            "services/MailerType/schema.py": MAILER_SCHEMA,
            "services/MailerType/__init__.py": MAILER_CODE,
            "services/Mail/e.json": {
                "title": "Mail", "type": "services.MailerType",
                "variables": [{"name": "mailApiToken", "value": SECRETS["mailApiToken"]},
                              {"name": "webhookAddress", "title": "redeclared without the flag"}]},
            "services/Mail/Mail.json": {"server": "smtp://robot:{{SMTP_PASSWORD}}@mail.acme.example",
                                        "user": "{{mailUser}}", "password": "{{mailPass}}"},
        },
        app_id="mailapp",
        variables=[{"name": "siteTitle", "value": PLAIN["siteTitle"]},
                   {"name": "webhookAddress", "value": SECRETS["webhookAddress"], "secret": True}],
    )


def open_app(root: Path) -> jitlite.App:
    return jitlite.App(root, environ={"SMTP_PASSWORD": SECRETS["SMTP_PASSWORD"], "mailPass": SECRETS["mailPass"],
                                      "mailUser": PLAIN["mailUser"]})


def assert_masked(text: str, app: jitlite.App) -> None:
    for name, value in {**SECRETS, "JITLITE_SECRET_KEY": app.envVars["JITLITE_SECRET_KEY"]}.items():
        assert value not in text, f"{name} is shown in {text}"


def test_env_vars_repr_masks_every_kind_of_secret(mail_app: Path) -> None:
    app = open_app(mail_app)
    env = app.envVars
    assert env.secret_names >= {"JITLITE_SECRET_KEY", *SECRETS}
    assert not env.secret_names & set(PLAIN)
    for printed in (repr(env), str(env), f"{env}", pprint.pformat(env), repr(env.copy()), repr({"env": env})):
        assert_masked(printed, app)
        assert MASK in printed and PLAIN["siteTitle"] in printed and PLAIN["mailUser"] in printed
    # The values themselves stay available to code that needs them.
    assert {name: env[name] for name in SECRETS} == SECRETS
    assert env.get("mailUser") == PLAIN["mailUser"] and dict(env)["mailPass"] == SECRETS["mailPass"]
    assert pickle.loads(pickle.dumps(env)).secret_names == env.secret_names


def test_unset_secret_shows_as_empty_not_masked(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(make_app({}, app_id="empty"), environ={})
    assert app.envVars["DATABASE_URL"] == "" and "'DATABASE_URL': ''" in repr(app.envVars)
    assert "DATABASE_URL" in app.envVars.secret_names  # it fills databases.Default's secret url


def test_jitlite_show_masks_secret_variables(mail_app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_app(mail_app)
    for name in ("SMTP_PASSWORD", "mailPass", "mailUser"):
        monkeypatch.setenv(name, app.envVars[name])
    result = CliRunner().invoke(main, ["show", "services.Mail", "--app", str(mail_app)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert_masked(result.stdout, app)
    shown = json.loads(result.stdout)
    assert shown["config"] == {"server": MASK, "user": PLAIN["mailUser"], "password": MASK}
    assert {v["name"]: v.get("value") for v in shown["declaration"]["variables"]}["mailApiToken"] == MASK
    assert app.describe("services.Mail")["config"]["user"] == PLAIN["mailUser"]


def test_build_error_masks_secret_values(mail_app: Path) -> None:
    app = open_app(mail_app)
    with pytest.raises(jitlite.ElementBuildError) as caught:
        app.getElement("services.Mail")
    message = str(caught.value)
    assert "RuntimeError: login refused for robot@acme.example with ***" in message
    assert_masked(message, app)
