"""A JitAi app's own files, opened and used as JitAi's documentation uses them.

``tests/jitai/apps/wanyun`` holds ``MyApp`` (appId ``wanyun.MyApp``, ``extends`` as ``{appId, version}``,
``settings.defaultElement``) beside ``BaseApp`` 1.0.0; ``tests/jitai/apps/wanyun_env`` is a JitAi
runtime folder (``<orgId>/<appName>/<version>``) holding BaseApp 2.0.0. Their element code names
no ``className`` and imports JitAi's names: ``services.NormalType``, ``datatypes.Meta``,
``jit.errcode``, ``jit.commons.utils.logger``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite import ElementLoadError
from jitlite.meta.services import Service
from jitlite.runtime.errcode import Code
from jitlite.wecom.context import WeComContext

FIXTURES = Path(__file__).resolve().parent.parent / "jitai" / "apps"


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """Copy the wanyun apps (MyApp beside BaseApp 1.0.0) and the runtime folder holding BaseApp 2.0.0."""
    for name in ("wanyun", "wanyun_env"):
        shutil.copytree(FIXTURES / name, tmp_path / name, ignore=shutil.ignore_patterns("appData", "__pycache__"))
    return tmp_path


def open_my_app(apps: Path, **environ: str) -> jitlite.App:
    return jitlite.App(apps / "wanyun" / "MyApp", environ=environ)


def edit_app_json(folder: Path, **changes: Any) -> None:
    path = folder / "app.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def load_problems(root: Path, **environ: str) -> list[jitlite.Problem]:
    with pytest.raises(ElementLoadError) as caught:
        jitlite.App(root, environ=environ)
    return caught.value.problems


def test_app_json_as_jitai_writes_it(apps: Path) -> None:
    app = open_my_app(apps)
    assert (app.appId, app.appKey, app.orgId, app.name, app.title, app.version) == (
        "wanyun.MyApp", "wanyun.MyApp@1.0.0", "wanyun", "MyApp", "My App", "1.0.0")
    assert (app.icon, app.requirements) == ("icons/myapp.png", ["requests>=2.0"])
    assert app.layers == ["official", "wanyun.BaseApp", "wanyun.MyApp"]
    assert app.getParentsMetadata() == [{
        "appId": "wanyun.BaseApp", "appKey": "wanyun.BaseApp@1.0.0", "orgId": "wanyun", "name": "Base App",
        "title": "Base App", "version": "1.0.0", "icon": "", "requirements": [], "extends": [],
        "path": str(apps / "wanyun" / "BaseApp"),
    }]
    base = jitlite.App(apps / "wanyun" / "BaseApp", environ={})
    assert (base.title, base.orgId, base.getParentsMetadata()) == ("Base App", "wanyun", [])  # title from name


def test_the_documented_element_code_runs(apps: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = open_my_app(apps)
    service: Any = app.getElement("services.OrderService")  # a class of the app's own code
    # No className anywhere: the class is the one __init__.py exports under the folder's name.
    assert type(service).__name__ == "OrderService" and issubclass(type(service), Service)
    with caplog.at_level(logging.INFO, logger="jitlite.app"):
        assert service.placeOrder("A001", 12.5) == "A001"
    assert [r.getMessage() for r in caplog.records if r.name == "jitlite.app"] == ["order A001 placed"]
    assert service.getAmount("A001").value == Decimal("12.50")
    with pytest.raises(Code) as caught:
        service.getAmount("Z999")
    assert (caught.value.code, caught.value.reason) == (40404, "order Z999 not found")
    try:  # the seeds' idiom
        service.getAmount("Z998")
    except Exception as e:
        assert "40404" in str(e)
    # An element of the extended app, through the app's layers.
    assert service.greetCustomer("Li") == "Hello, Li (from BaseApp 1.0.0)"


def test_default_elements_named_in_app_json_are_the_ones_used(apps: Path) -> None:
    app = open_my_app(apps)
    assert app.defaultElementName("defaultDatabase") == "databases.MyAppDB"
    assert app.defaultElementName("defaultCache") == "caches.MyAppCache"
    app.getElement("services.OrderService").placeOrder("A002", 3)
    # The model names no db: it lives in the default database, and the service wrote the default cache.
    assert app.getElement("models.OrderModel").databaseName() == "databases.MyAppDB"
    assert (apps / "wanyun" / "MyApp" / "appData" / "database" / "MyAppDB" / "sqlite.db").is_file()
    assert app.defaultDatabase() is app.getElement("databases.MyAppDB")
    assert app.defaultCache() is app.getElement("caches.MyAppCache")
    assert app.getElement("caches.MyAppCache").get("lastOrder") == "A002"
    # The official Types keep their tokens in the default cache too.
    assert WeComContext.of(app).tokens.cache is app.getElement("caches.MyAppCache")
    with pytest.raises(KeyError, match="defaultStorage"):
        app.defaultElementName("defaultStorage")


def test_without_default_elements_the_official_defaults_are_used(apps: Path) -> None:
    edit_app_json(apps / "wanyun" / "MyApp", settings={})
    app = open_my_app(apps)
    assert app.getElement("models.OrderModel").databaseName() == "databases.Default"
    assert app.defaultCache() is app.getElement("caches.Default")


def test_an_extending_app_keeps_the_defaults_of_the_app_it_extends(apps: Path) -> None:
    edit_app_json(apps / "wanyun" / "BaseApp", settings={"defaultElement": {"defaultCache": "caches.MemoryOne"}})
    member = apps / "wanyun" / "BaseApp" / "caches" / "MemoryOne"
    member.mkdir(parents=True)
    (member / "e.json").write_text(json.dumps({"title": "Memory", "type": "caches.MemoryType"}))
    app = open_my_app(apps)
    # MyApp names both; BaseApp's defaultCache is overridden, MyApp without defaultCache keeps it.
    assert app.defaultElementName("defaultCache") == "caches.MyAppCache"
    edit_app_json(apps / "wanyun" / "MyApp", settings={"defaultElement": {"defaultDatabase": "databases.MyAppDB"}})
    app = open_my_app(apps)
    assert app.defaultElementName("defaultCache") == "caches.MemoryOne"
    assert app.defaultElementName("defaultDatabase") == "databases.MyAppDB"


@pytest.mark.parametrize(
    ("defaults", "where", "fragments"),
    [
        ({"defaultDatabase": "databases.MyAppDb"}, "defaultDatabase",
         ["names 'databases.MyAppDb', which is not an element of this app", "did you mean 'databases.MyAppDB'"]),
        ({"defaultCache": "databases.MyAppDB"}, "defaultCache",
         ["names 'databases.MyAppDB', whose type is databases.SqliteType, not a caches.Meta Type",
          "e.g. caches.Default"]),
        ({"defaultDatabse": "databases.MyAppDB"}, "defaultDatabse",
         ["unknown default element 'defaultDatabse'", "did you mean 'defaultDatabase'?"]),
        ({"defaultDatabase": 3}, "defaultDatabase", ["must be the fullName of a databases.Meta element"]),
    ],
)
def test_default_element_mistakes_are_load_problems(
    apps: Path, defaults: dict[str, Any], where: str, fragments: list[str]
) -> None:
    root = apps / "wanyun" / "MyApp"
    edit_app_json(root, settings={"defaultElement": defaults})
    [problem] = load_problems(root)
    assert (problem.path, problem.where) == (str(root / "app.json"), f"settings.defaultElement.{where}")
    for fragment in fragments:
        assert fragment in problem.render()


def test_an_extended_version_is_found_on_jitlite_apps_path(apps: Path) -> None:
    root = apps / "wanyun" / "MyApp"
    edit_app_json(root, extends=[{"appId": "wanyun.BaseApp", "version": "2.0.0"}])
    app = open_my_app(apps, JITLITE_APPS_PATH=os.pathsep.join([str(apps / "nowhere"), str(apps / "wanyun_env")]))
    [base] = app.getParentsMetadata()
    assert (base["appKey"], base["path"]) == ("wanyun.BaseApp@2.0.0", str(apps / "wanyun_env/wanyun/BaseApp/2_0_0"))
    assert app.getElement("services.OrderService").greetCustomer("Li") == "Hello, Li (from BaseApp 2.0.0)"


def test_without_a_version_the_first_folder_holding_the_app_wins(apps: Path) -> None:
    root = apps / "wanyun" / "MyApp"
    edit_app_json(root, extends=[{"appId": "wanyun.BaseApp"}])
    app = open_my_app(apps, JITLITE_APPS_PATH=str(apps / "wanyun_env"))
    assert app.getParentsMetadata()[0]["version"] == "1.0.0"  # the app's own parent folder comes first
    shutil.rmtree(apps / "wanyun" / "BaseApp")
    app = open_my_app(apps, JITLITE_APPS_PATH=str(apps / "wanyun_env"))
    assert app.getParentsMetadata()[0]["version"] == "2.0.0"


def test_a_missing_extended_app_lists_where_it_was_looked_for(apps: Path) -> None:
    root = apps / "wanyun" / "MyApp"
    edit_app_json(root, extends=[{"appId": "wanyun.BaseApp", "version": "3.0.0"}])
    [problem] = load_problems(root, JITLITE_APPS_PATH=str(apps / "wanyun_env"))
    assert (problem.full_name, problem.path, problem.where) == ("app wanyun.MyApp", str(root / "app.json"),
                                                                "extends[0]")
    assert problem.message.startswith(f"extends app 'wanyun.BaseApp@3.0.0', which is in no folder of the app search "
                                      f"path ({apps / 'wanyun'}, {apps / 'wanyun_env'})")
    assert f"other versions are there: 1.0.0 in {apps / 'wanyun' / 'BaseApp'}" in problem.message
    assert "JITLITE_APPS_PATH" in problem.fix
    edit_app_json(root, extends=[{"appId": "wanyun.NoSuchApp"}])
    [problem] = load_problems(root)
    assert "'wanyun.NoSuchApp', which is in no folder of the app search path" in problem.message
    assert "other versions" not in problem.message


@pytest.mark.parametrize(
    ("changes", "where", "fragment"),
    [
        ({"orgId": "acme"}, "orgId", "orgId 'acme' is not the organisation of appId 'wanyun.MyApp'"),
        ({"encrypted": 1}, "encrypted", "jitlite reads only plain source files"),
        ({"appId": "wanyun.My.App"}, "appId", "does not have the expected form"),
        ({"extends": [{"version": "1.0.0"}]}, "extends[0]", "names no app: an extends entry needs \"appId\""),
        ({"extends": [{"appId": "wanyun.BaseApp", "version": 1}]}, "extends[0].version", "valid string"),
    ],
)
def test_app_json_mistakes(apps: Path, changes: dict[str, Any], where: str, fragment: str) -> None:
    root = apps / "wanyun" / "MyApp"
    edit_app_json(root, **changes)
    problems = load_problems(root)
    assert any(p.where == where and fragment in p.message for p in problems), [p.render() for p in problems]
