"""Database and model elements: databases.Default, DATABASE_URL, the official models' tables."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

import jitlite
from jitlite.cli import main
from jitlite.storage import SecretKeyError

from ..conftest import PROXY_CONFIG

PROXY_MODEL = "auths.loginTypes.QywxProxyType.QywxProxyAuthModel"


def proxy_app(make_app: Callable[..., Path], **manifest: object) -> Path:
    return make_app({"auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/L/L.json": PROXY_CONFIG}, **manifest)


def test_default_database_is_sqlite_in_app_data(make_app: Callable[..., Path]) -> None:
    root = proxy_app(make_app, app_id="sqlitedefault")
    app = jitlite.App(root, environ={})
    model = app.getElement(PROXY_MODEL)
    row = model.create({"suiteId": "tj1", "corpId": "ww1", "permanentCode": "the-permanent-code"})
    assert row.permanentCode == "the-permanent-code"
    assert "the-permanent-code" not in repr(row)
    database = root / "appData" / "jitlite.sqlite3"
    [(stored,)] = sqlite3.connect(database).execute("SELECT permanentCode FROM jit_qywx_proxy_auth").fetchall()
    assert stored.startswith("j2.") and "the-permanent-code" not in stored  # encrypted at rest
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # A restart (a new App on the same folder, same generated key) reads it back.
    again = jitlite.App(root, environ={}).getElement(PROXY_MODEL)
    assert again.get("Q(corpId='ww1')").permanentCode == "the-permanent-code"


def test_wrong_key_after_restart_is_a_clear_error(make_app: Callable[..., Path]) -> None:
    root = proxy_app(make_app, app_id="rekeyed")
    jitlite.App(root, environ={}).getElement(PROXY_MODEL).create(
        {"suiteId": "tj1", "corpId": "ww1", "permanentCode": "pc"})
    other_key = Fernet.generate_key().decode()
    model = jitlite.App(root, environ={"JITLITE_SECRET_KEY": other_key}).getElement(PROXY_MODEL)
    with pytest.raises(SecretKeyError) as caught:
        model.get("Q(corpId='ww1')")
    assert other_key not in str(caught.value)


def test_database_url_moves_the_default_database(make_app: Callable[..., Path]) -> None:
    url = os.environ.get("JITLITE_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("JITLITE_TEST_PG_URL must be set on CI (eval \"$(.ci/services)\")")
        pytest.skip("JITLITE_TEST_PG_URL is not set")
    root = proxy_app(make_app, app_id="pgdefault")
    app = jitlite.App(root, environ={"DATABASE_URL": url})
    database = app.getElement("databases.Default")
    assert database.engine.dialect.name == "postgresql"
    model = app.getElement(PROXY_MODEL)
    try:
        model.updateOrAdd("Q(suiteId='tjpg') & Q(corpId='wwpg')", {"permanentCode": "pg-code"})
        again = jitlite.App(root, environ={"DATABASE_URL": url}).getElement(PROXY_MODEL)
        assert again.get("Q(suiteId='tjpg')").permanentCode == "pg-code"
        assert url.split("@")[0] not in str(app.describe("databases.Default"))
    finally:
        model.deleteByFilter("Q(suiteId='tjpg')")
        database.dispose()


def test_model_api_on_official_models(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(proxy_app(make_app, app_id="modelapi"), environ={})
    wechat = app.getElement("auths.loginTypes.WeChatType.WeChatAuthModel")
    wechat.createOrUpdateMany([{"appId": "wx1", "openId": f"o{i}", "userId": f"u{i}"} for i in range(5)])
    assert wechat.query(orderList=[["openId", -1]], size=2)["totalCount"] == 5
    assert [r.openId for r in wechat.query(orderList=[["openId", -1]], size=2)["rowDatas"]] == ["o4", "o3"]
    assert wechat.updateByFilter("Q(openId__in=['o1', 'o2'])", {"unionId": "un"}) == 2
    assert wechat.deleteByFilter("Q(unionId='un')") == 2
    assert wechat.query()["totalCount"] == 3


def test_a_model_class_without_table(make_app: Callable[..., Path]) -> None:
    root = make_app({"models/Empty/e.json": {"title": "Empty", "type": "models.NormalType"},
                     "models/Empty/__init__.py": "from models.NormalType import NormalModel\n\n\n"
                                                 "class Empty(NormalModel):\n    pass\n"}, app_id="notable")
    with pytest.raises(jitlite.ElementBuildError, match="names no table"):
        jitlite.App(root, environ={}).getElement("models.Empty")


def test_keygen_prints_a_fernet_key() -> None:
    key = CliRunner().invoke(main, ["keygen"]).stdout.strip()
    Fernet(key)
