"""QywxInnerType's syncUserInfo and syncDepartmentInfo: through the org-sync engine, into corps.models."""

from __future__ import annotations

from typing import Any

import pytest

import jitlite
from jitlite.runtime import clock
from jitlite.sandbox.defaults import DEFAULT_AGENT_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import Q
from jitlite.wecom import NotFoundOrOutOfScope

from .conftest import CORP, INNER

START = 1_900_000_000.0


def depts(app: jitlite.App) -> dict[str, tuple[str | None, str | None]]:
    rows = app.getElement("corps.models.CorpDept").query(Q(corpFullName=INNER), size=100)["rowDatas"]
    return {r.deptId: (r.name, r.path) for r in rows}


def member(app: jitlite.App, member_id: str) -> Any:
    return app.getElement("corps.models.CorpMember").get(Q(corpFullName=INNER, memberId=member_id))


def test_seed_sync_examples_run_as_written(demo: jitlite.App) -> None:
    qywx_auth = demo.getElement("auths.loginTypes.QywxInnerExample")
    qywx_auth.syncUserInfo(userId="zhangwei", forceUpdate=True)
    qywx_auth.syncDepartmentInfo()  # Sync all departments
    qywx_auth.syncDepartmentInfo(deptId="2")  # Sync specified department
    assert member(demo, "zhangwei").name == "张伟"
    assert qywx_auth.authModel.get(Q(corpId=CORP, userId="zhangwei")).position == "总经理"
    assert depts(demo)["2"] == ("研发中心", "/1/2/")


def test_departments_all_or_one_subtree(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    login.syncDepartmentInfo()
    assert depts(demo) == {"1": ("沙盒科技", "/1/"), "2": ("研发中心", "/1/2/"), "3": ("销售部", "/1/3/"),
                           "4": ("后端组", "/1/2/4/"), "5": ("前端组", "/1/2/5/")}
    model = demo.getElement("corps.models.CorpDept")
    stamps = {r.deptId: r.updatedAt for r in model.query(Q(corpFullName=INNER), size=100)["rowDatas"]}
    login.syncDepartmentInfo()  # nothing changed: nothing rewritten
    assert {r.deptId: r.updatedAt for r in model.query(Q(corpFullName=INNER), size=100)["rowDatas"]} == stamps

    sandbox.state.add_department(CORP, {"id": 6, "name": "渠道组", "parentid": 3})
    login.syncDepartmentInfo()
    assert depts(demo)["6"] == ("渠道组", "/1/3/6/")
    sandbox.state.delete_department(CORP, 6)
    sandbox.state.update_department(CORP, 5, name="前端与设计组")
    sandbox.state.add_department(CORP, {"id": 7, "name": "测试组", "parentid": 2})
    login.syncDepartmentInfo(deptId=2)
    found = depts(demo)
    assert found["5"] == ("前端与设计组", "/1/2/5/") and found["7"] == ("测试组", "/1/2/7/")
    assert "6" in found  # outside the synced subtree: left alone
    login.syncDepartmentInfo(deptId="3")
    assert "6" not in depts(demo) and depts(demo)["3"] == ("销售部", "/1/3/")
    with pytest.raises(ValueError, match="deptId must be a WeCom department id"):
        login.syncDepartmentInfo(deptId="2; DROP")
    with pytest.raises(NotFoundOrOutOfScope):
        login.syncDepartmentInfo(deptId=999)


def test_one_member_synced_once_unless_forced(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    with clock.use_clock(lambda: START - 60):  # the login wrote the member's QywxInnerAuthModel row
        login.getLoginCode(authCode=sandbox.state.issue_corp_code(CORP, "lina", agent_id=DEFAULT_AGENT_ID))
    with clock.use_clock(lambda: START):
        login.syncUserInfo("lina")  # the org member is new; the login's row is unchanged
    row, synced = login.authModel.get(Q(corpId=CORP, userId="lina")), member(demo, "lina")
    assert synced.corpId == CORP and synced.deptIds == ["4"] and synced.userId == row.sysUserId
    assert synced.updatedAt.timestamp() == START and row.updatedAt.timestamp() == START - 60

    with clock.use_clock(lambda: START + 60):
        login.syncUserInfo("lina")  # unchanged: neither row is rewritten
    assert member(demo, "lina").updatedAt.timestamp() == START
    assert login.authModel.get(Q(corpId=CORP, userId="lina")).updatedAt.timestamp() == START - 60
    with clock.use_clock(lambda: START + 120):
        login.syncUserInfo("lina", forceUpdate=True)
    assert member(demo, "lina").updatedAt.timestamp() == START + 120
    assert login.authModel.get(Q(corpId=CORP, userId="lina")).updatedAt.timestamp() == START + 120

    sandbox.state.update_member(CORP, "lina", position="后端负责人")
    with clock.use_clock(lambda: START + 180):
        login.syncUserInfo("lina")
    assert member(demo, "lina").position == "后端负责人"
    assert login.authModel.get(Q(corpId=CORP, userId="lina")).position == "后端负责人"


def test_a_member_gone_from_wecom_goes_offline(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    login.syncUserInfo("zhouqiang")
    assert member(demo, "zhouqiang").status == "active"
    sandbox.state.delete_member(CORP, "zhouqiang")
    with pytest.raises(NotFoundOrOutOfScope):
        login.syncUserInfo("zhouqiang")
    assert member(demo, "zhouqiang").status == "offline"
