"""Layers: overriding by the highest layer, private and protected, extends, the import hook."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite
from jitlite import ElementLoadError, ElementNotFound

from ..conftest import PROXY_CONFIG, ROOT


@pytest.fixture
def override_app(tmp_path: Path) -> Path:
    """Copy the override example and the demo app it extends, so no test writes into the repository."""
    ignore = shutil.ignore_patterns("appData", "jitlite.toml", "__pycache__")
    shutil.copytree(ROOT / "elements", tmp_path / "elements", ignore=ignore)
    shutil.copytree(ROOT / "examples" / "override_app", tmp_path / "examples" / "override_app", ignore=ignore)
    return tmp_path / "examples" / "override_app"


def test_override_official_type_by_subclassing(caplog: pytest.LogCaptureFixture, override_app: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="jitlite.loader"):
        app = jitlite.App(override_app, environ={})
    login = app.getElement("auths.QywxProxyTemp")
    official = sys.modules["jitlite.types.auths.loginTypes.QywxProxyType"].QywxProxyAuth
    assert type(login).__name__ == "BrandedQywxProxyAuth"
    assert isinstance(login, official)
    config = login.getLoginConfig()
    assert config["loginTitle"] == "Sign in to Acme with WeCom"
    assert config["suiteId"] == "tjsandboxsuite0001"  # the rest is the official behaviour
    # Schema inherited from the overridden official Type: a bad key is still caught.
    assert login.config.authConfig.encodingAESKey.get_secret_value() == "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    overrides = [r.getMessage() for r in caplog.records if "overrides" in r.getMessage()]
    assert len(overrides) == 1
    assert overrides[0].startswith("auths.loginTypes.QywxProxyType from app 'overrideExample'")
    assert "overrides the one from jitlite's official elements" in overrides[0]
    assert str(override_app / "auths" / "loginTypes" / "QywxProxyType") in overrides[0]
    # The children of the official Type are still there.
    assert app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService")
    assert app.layers == ["official", "jitliteDemo", "overrideExample"]


def test_short_name_imports_resolve_child_first(override_app: Path) -> None:
    app = jitlite.App(override_app, environ={})
    report = app.getElement("services.OrgReport")
    assert report.corpElements() == ["corps.MyQywxProxyCorp"]
    # Element names exist only once an App is built: type checkers cannot see them.
    from auths.loginTypes.QywxProxyType import BrandedQywxProxyAuth  # type: ignore[import-not-found]
    from corps.QywxProxyType import QywxProxyCorp  # type: ignore[import-not-found]

    assert QywxProxyCorp is sys.modules["jitlite.types.corps.QywxProxyType"].QywxProxyCorp
    assert type(app.getElement("auths.QywxProxyTemp")) is BrandedQywxProxyAuth


def test_short_names_follow_the_active_app(demo_app: jitlite.App, override_app: Path) -> None:
    override = jitlite.App(override_app, environ={})
    from auths.loginTypes import QywxProxyType as OverriddenModule  # type: ignore[import-not-found]

    assert hasattr(OverriddenModule, "BrandedQywxProxyAuth")
    demo_app.activate()
    from auths.loginTypes import QywxProxyType as OfficialModule

    assert not hasattr(OfficialModule, "BrandedQywxProxyAuth")
    assert OfficialModule.__name__ == "jitlite.types.auths.loginTypes.QywxProxyType"
    override.activate()
    with pytest.raises(ModuleNotFoundError):
        __import__("auths.loginTypes.NoSuchType")


def test_private_elements_are_hidden_from_extending_apps(fixture_app: Callable[[str], Path]) -> None:
    base = jitlite.App(fixture_app("base_app"), environ={})
    assert base.getElement("auths.InternalLogin").fullName == "auths.InternalLogin"
    app = jitlite.App(fixture_app("extends_base"), environ={})
    assert app.getElement("auths.BaseLogin").fullName == "auths.BaseLogin"
    assert app.getElement("auths.Mine").spec.layer.name == "extends_base"
    with pytest.raises(ElementNotFound, match="it is private to app 'base_app'"):
        app.getElement("auths.InternalLogin")
    assert "auths.InternalLogin" not in [s.full_name for s in app.specs()]


def test_protected_elements_cannot_be_overridden(fixture_app: Callable[[str], Path]) -> None:
    with pytest.raises(ElementLoadError) as caught:
        jitlite.App(fixture_app("overrides_protected"), environ={})
    [problem] = caught.value.problems
    assert problem.full_name == "auths.BaseLogin"
    assert problem.message.startswith("overrides a protected element of app 'base_app'")
    assert "protected elements cannot be overridden" in problem.fix


def test_official_metas_are_protected(make_app: Callable[..., Path]) -> None:
    root = make_app({"corps/Meta/e.json": {"title": "My meta", "type": ""}}, app_id="metaoverride")
    with pytest.raises(ElementLoadError, match="overrides a protected element of jitlite's official elements"):
        jitlite.App(root, environ={})


def test_a_type_private_to_its_app_is_usable_inside_it(make_app: Callable[..., Path], tmp_path: Path) -> None:
    make_app({
        "auths/loginTypes/SecretType/e.json": {"title": "S", "type": "auths.loginTypes.QywxProxyType",
                                               "isType": True, "accessModifier": "private"},
        "auths/Uses/e.json": {"title": "U", "type": "auths.loginTypes.SecretType"},
        "auths/Uses/Uses.json": PROXY_CONFIG,
    }, app_id="lower")
    upper = make_app({
        "auths/AlsoUses/e.json": {"title": "A", "type": "auths.loginTypes.SecretType"},
        "auths/AlsoUses/AlsoUses.json": PROXY_CONFIG,
    }, app_id="upper", extends=["../lower"])
    with pytest.raises(ElementLoadError) as caught:
        jitlite.App(upper, environ={})
    [problem] = caught.value.problems
    assert problem.full_name == "auths.AlsoUses"
    assert problem.message == "type 'auths.loginTypes.SecretType' is private to app 'lower'"


def test_highest_layer_wins_for_instances(make_app: Callable[..., Path]) -> None:
    make_app({"auths/L/e.json": {"title": "lower", "type": "auths.loginTypes.QywxProxyType"},
              "auths/L/L.json": PROXY_CONFIG}, app_id="low")
    upper = make_app({"auths/L/e.json": {"title": "upper", "type": "auths.loginTypes.QywxProxyType"},
                      "auths/L/config.json": {**PROXY_CONFIG, "isActive": False}}, app_id="up", extends=["../low"])
    app = jitlite.App(upper, environ={})
    login = app.getElement("auths.L")
    assert (login.title, login.isActive) == ("upper", False)
    assert app.describe("auths.L")["overrides"][0].startswith("low: ")
