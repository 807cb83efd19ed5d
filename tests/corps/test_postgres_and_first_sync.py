"""The org sync on PostgreSQL, and the first sync that create_auth starts when the app asks for it."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from typing import Any

import pytest

import jitlite
from jitlite.meta.corps import wait_background_syncs
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import create_pg_engine

from .conftest import (
    CORP,
    CORP_ELEMENT,
    SECOND_CORP,
    authorise,
    second_corp,
    service,
    wait_callbacks,
)


def test_sync_and_events_on_postgresql(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    url = os.environ.get("JITLITE_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("JITLITE_TEST_PG_URL must be set on CI")
        pytest.skip("JITLITE_TEST_PG_URL is not set")
    schema = f"corps_{secrets.token_hex(4)}"  # a schema of its own: nothing shared with other tests
    admin = create_pg_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    app: Any = None
    try:
        app = open_app({"databases/Default/e.json": json.dumps({"title": "PostgreSQL", "type": "databases.PgSqlType"}),
                        "databases/Default/Default.json": json.dumps({"url": url, "schema": schema})})
        assert app.getElement("databases.Default").engine.dialect.name == "postgresql"
        authorise(app, sandbox)
        corp = app.getElement(CORP_ELEMENT)
        first = corp.syncCorp()
        assert (first["created"], first["members"], first["depts"]) == (15, 10, 5)
        before = {m.memberId: m.updatedAt for m in corp.getMembers()}
        again = corp.syncCorp()
        assert again["rowsWritten"] == 0 and {m.memberId: m.updatedAt for m in corp.getMembers()} == before
        assert corp.getMember("chenjie").deptIds == ["4", "5"] and corp.getMember("lina").isLeader is True
        sandbox.state.update_member(CORP, "lina", name="李娜娜")  # an event, applied at once
        wait_callbacks(app)
        assert corp.getMember("lina").name == "李娜娜"
        sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=None, data_callback_url=None)
        sandbox.state.delete_member(CORP, "huangmin")
        assert corp.syncCorp()["offline"] == 1 and corp.getMember("huangmin").status == "offline"
    finally:
        if app is not None:
            service(app).close()
            app.getElement("databases.Default").dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_create_auth_starts_the_first_sync_when_asked(open_app: Callable[..., jitlite.App],
                                                      sandbox: Sandbox) -> None:
    sandbox.state.add_corp(second_corp())
    app = open_app(syncOnAuthorise=True)
    authorise(app, sandbox)  # the folder organisation of the default corp
    authorise(app, sandbox, SECOND_CORP)  # no folder: its run-time organisation
    assert wait_background_syncs(app, 30)
    assert len(app.getElement(CORP_ELEMENT).getMembers()) == 10
    runtime = app.getElement("corps.QywxProxyType").forCorp(SECOND_CORP)
    assert {m.memberId for m in runtime.getMembers()} == {"lina", "wangfang", "sunli"}
    assert runtime.getRootDept().name == "第二公司"
    notes = [r.note for r in service(app).records.query(orderList=[["id", 1]], size=100)["rowDatas"]
             if r.infoType == "create_auth"]
    assert notes and all("first sync of 1 organisation(s) started" in n for n in notes)


def test_without_the_setting_create_auth_syncs_nothing(app: jitlite.App) -> None:
    assert wait_background_syncs(app, 5)
    assert app.getElement(CORP_ELEMENT).getMembers() == []
