"""The default app on an in-process sandbox, with the default corp authorised, for the org-sync tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.orgdata import Corp as SandboxCorp
from jitlite.sandbox.orgdata import Department, Member
from jitlite.sandbox.testing import Sandbox
from jitlite.wecom.context import WeComContext

from ..conftest import DEMO_APP

PROXY = "auths.QywxProxyTemp"
CORP_ELEMENT = "corps.MyQywxProxyCorp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
CORP = DEFAULT_CORP_ID
SECOND_CORP = "wwsandboxcorp0002"


def service(app: jitlite.App) -> Any:
    """Return the proxy-development callback service of an app."""
    return app.getElement(SERVICE)


def wait_callbacks(app: jitlite.App) -> None:
    """Wait until every callback the app received is processed."""
    assert service(app).waitIdle(10)


def second_corp() -> SandboxCorp:
    """Return a second sandbox corp that shares member ids with the default one (lina, wangfang)."""
    corp = SandboxCorp(SECOND_CORP, "第二公司")
    corp.add_department(Department(1, "第二公司", 0, 1))
    corp.add_department(Department(2, "市场部", 1, 1))
    corp.add_member(Member("lina", "李娜(二)", [2], mobile="13900000001", position="市场经理", gender=2,
                           is_leader_in_dept=[1]))
    corp.add_member(Member("wangfang", "王芳(二)", [1], mobile="13900000002"))
    corp.add_member(Member("sunli", "孙丽", [2], mobile="13900000003"))
    return corp


def authorise(app: jitlite.App, sandbox: Sandbox, corp_id: str = CORP, **scope: Any) -> None:
    """Push a suite ticket (once) and have a corp authorise the default suite; wait for the callbacks."""
    if sandbox.state.latest_suite_ticket(DEFAULT_SUITE_ID) is None:
        sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    sandbox.authorize(DEFAULT_SUITE_ID, corp_id, **scope)
    wait_callbacks(app)


def mute_callbacks(sandbox: Sandbox) -> None:
    """Stop the sandbox pushing change events to the app, so only a sync sees org changes."""
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=None, data_callback_url=None)


@pytest.fixture
def open_app(tmp_path: Path, sandbox: Sandbox) -> Iterator[Callable[..., jitlite.App]]:
    """Return a function that opens the default app (a copy, plus extra files) on the sandbox."""
    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    opened: list[jitlite.App] = []

    def open_(files: dict[str, str] | None = None, **settings: Any) -> jitlite.App:
        for relative, text in (files or {}).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        app = jitlite.App(root, environ={})
        sandbox.connect(app)
        app.configure(**settings)
        WeComContext.of(app).tokens.sleep = lambda seconds: None  # backoff without waiting
        opened.append(app)
        return app

    yield open_
    for app in opened:
        if SERVICE in app._objects:
            service(app).close()


@pytest.fixture
def app(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The default app with the default corp authorised."""
    opened = open_app()
    authorise(opened, sandbox)
    return opened


@pytest.fixture
def corp(app: jitlite.App) -> Any:
    """The seed's organisation element, corps.MyQywxProxyCorp."""
    return app.getElement(CORP_ELEMENT)


def members_of(corp: Any) -> dict[str, dict[str, Any]]:
    """Return the organisation's members as plain dicts, by memberId."""
    return {m.memberId: m.toDict() for m in corp.getMembers()}


def depts_of(corp: Any) -> dict[str, tuple[str, str | None, str]]:
    """Return ``deptId -> (name, parentId, path)`` of the organisation."""
    return {d.deptId: (d.name, d.parentId, d.path) for d in corp.getDepts()}


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until check() is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
