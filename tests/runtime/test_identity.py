"""Identity: users, WeCom identities, login codes and sessions — on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import jitlite
from jitlite import LoginCodeInvalid, SessionInvalid


@pytest.fixture(params=["sqlite", "postgresql"])
def auth_app(request: pytest.FixtureRequest, make_app: Callable[..., Path]) -> Iterator[jitlite.App]:
    """An app whose databases.Default is SQLite, or PostgreSQL in a schema of its own."""
    if request.param == "sqlite":
        yield jitlite.App(make_app({}, app_id="identity"), environ={})
        return
    url = os.environ.get("JITLITE_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("JITLITE_TEST_PG_URL must be set on CI (eval \"$(.ci/services)\")")
        pytest.skip("JITLITE_TEST_PG_URL is not set")
    schema = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    root = make_app({"databases/Default/e.json": {"title": "PostgreSQL", "type": "databases.PgSqlType"},
                     "databases/Default/Default.json": {"url": "{{PG_URL}}", "schema": schema}}, app_id="identitypg")
    app = jitlite.App(root, environ={"PG_URL": url})
    try:
        yield app
    finally:
        app.getElement("databases.Default").dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def service(app: jitlite.App) -> Any:
    return app.getElement("auths.services.AuthService")


def test_login_code_exchanged_once(auth_app: jitlite.App) -> None:
    auth = service(auth_app)
    user = auth.ensureWeComUser("ww1", "zhangsan", name="张三", mobile="13800000000")
    code = auth.createLoginCode(user.userId, [{"corpId": "ww1", "corpName": "Acme"}], "auths.loginTypes.QywxProxyType")
    session = auth.exchangeLoginCode(code, platform="web")
    assert session["userId"] == user.userId and session["corpId"] == "ww1"
    assert len(session["token"]) >= 43  # 32 random bytes, url-safe base64
    assert auth.getSession(session["token"])["platform"] == "web"
    with pytest.raises(LoginCodeInvalid, match="already used"):
        auth.exchangeLoginCode(code)
    # Only hashes are stored.
    stored = auth.loginCodes.query()["rowDatas"][0]
    assert code not in str(stored.toDict()) and stored.codeHash != code
    assert session["token"] not in str(auth.sessions.query()["rowDatas"][0].toDict())


def test_login_code_expires_after_five_minutes(auth_app: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = service(auth_app)
    user = auth.createUser(name="李四")
    code = auth.createLoginCode(user.userId)
    later = datetime.now(timezone.utc) + timedelta(minutes=5, seconds=1)
    monkeypatch.setattr(auth, "clock", lambda: later)
    with pytest.raises(LoginCodeInvalid, match="expired"):
        auth.exchangeLoginCode(code)


def test_login_code_for_another_corp(auth_app: jitlite.App) -> None:
    auth = service(auth_app)
    user = auth.createUser()
    code = auth.createLoginCode(user.userId, [{"corpId": "ww1", "corpName": "A"}, {"corpId": "ww2", "corpName": "B"}])
    with pytest.raises(LoginCodeInvalid, match="does not give access to corp ww3"):
        auth.exchangeLoginCode(code, corpId="ww3")
    assert auth.exchangeLoginCode(code, corpId="ww2")["corpId"] == "ww2"  # the refusal did not consume it


def test_twenty_threads_race_for_one_code(auth_app: jitlite.App) -> None:
    auth = service(auth_app)
    code = auth.createLoginCode(auth.createUser().userId)
    barrier = threading.Barrier(20)
    wins: list[str] = []
    losses: list[Exception] = []

    def exchange() -> None:
        barrier.wait()
        try:
            wins.append(auth.exchangeLoginCode(code)["token"])
        except LoginCodeInvalid as exc:
            losses.append(exc)

    threads = [threading.Thread(target=exchange) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(wins) == 1 and len(losses) == 19


def test_sessions_expire_and_are_revocable(auth_app: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = service(auth_app)
    user = auth.createUser()
    web = auth.openSession(user.userId, platform="web")
    mobile = auth.openSession(user.userId, platform="mobile")
    assert auth.logout(web["token"]) is True
    assert auth.logout(web["token"]) is False
    with pytest.raises(SessionInvalid):
        auth.getSession(web["token"])
    assert auth.getSession(mobile["token"])["userId"] == user.userId
    monkeypatch.setattr(auth, "clock", lambda: datetime.now(timezone.utc) + timedelta(days=31))
    with pytest.raises(SessionInvalid, match="expired"):
        auth.getSession(mobile["token"])
    with pytest.raises(SessionInvalid):
        auth.getSession("not-a-token")
    with pytest.raises(ValueError, match="platform must be one of app, web, mobile"):
        auth.openSession(user.userId, platform="desktop")


def test_wecom_identity_maps_to_one_user(auth_app: jitlite.App) -> None:
    auth = service(auth_app)
    first = auth.ensureWeComUser("ww1", "wangwu", name="王五")
    again = auth.ensureWeComUser("ww1", "wangwu", name="王五(改)", email="w@example.com")
    other_corp = auth.ensureWeComUser("ww2", "wangwu")
    assert first.userId == again.userId != other_corp.userId
    assert again.name == "王五(改)" and again.email == "w@example.com"
    assert auth.users.query()["totalCount"] == 2
