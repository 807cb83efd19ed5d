"""change_contact callbacks in both formats, full and ids-only, applied at once through the callback service."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

import jitlite
from jitlite.sandbox.callbacks import contact_event_xml, contact_info_xml, department_fields, member_fields
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox

from .conftest import (
    CORP,
    PROXY,
    SECOND_CORP,
    authorise,
    depts_of,
    members_of,
    mute_callbacks,
    second_corp,
    service,
    wait_callbacks,
)


def deliver(app: jitlite.App, xml: str, receive_id: str) -> None:
    """Send a callback as WeCom would (encrypted to receive_id) and wait until it is processed."""
    login = app.getElement(PROXY)
    nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
    envelope = login.crypto.encrypt_message(xml, nonce, timestamp, receive_id)
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    response = service(app).notify(nonce=nonce, timestamp=timestamp, body=envelope,
                                   msg_signature=login.crypto.signature(timestamp, nonce, encrypt))
    assert response.get_data(as_text=True) == "success"
    wait_callbacks(app)


class Changes:
    """Change the sandbox org and get the change to the app in one format (InfoType or MsgType=event)."""

    def __init__(self, app: jitlite.App, sandbox: Sandbox, fmt: str, ids_only: bool) -> None:
        self.app, self.sandbox, self.fmt, self.ids_only = app, sandbox, fmt, ids_only
        self.state = sandbox.state
        if fmt == "event":  # the sandbox pushes 代开发 corp callbacks itself
            self.state.update_suite(DEFAULT_SUITE_ID, contact_ids_only=ids_only)
        else:  # third-party style: WeCom's suite callback, built here from the sandbox's org
            mute_callbacks(sandbox)

    def _send(self, change_type: str, payload: list[Any]) -> None:
        if self.fmt == "info":
            deliver(self.app, contact_info_xml(DEFAULT_SUITE_ID, CORP, int(time.time()), change_type, payload),
                    DEFAULT_SUITE_ID)

    def member(self, change: str, userid: str, data: dict[str, Any] | None = None) -> None:
        corp = self.state.corp(CORP)
        if change == "create_user":
            member = self.state.add_member(CORP, data or {})
            self._send(change, member_fields(member, open_userid=None, ids_only=self.ids_only))
        elif change == "update_user":
            old = corp.get_member(userid)
            new = self.state.update_member(CORP, userid, **(data or {}))
            changed = {name for name in (data or {}) if getattr(old, name) != getattr(new, name)}
            if "department" in changed:
                changed |= {"is_leader_in_dept", "main_department"}
            self._send(change, member_fields(new, open_userid=None, ids_only=self.ids_only, changed=changed))
        else:
            old = self.state.delete_member(CORP, userid)
            self._send(change, member_fields(old, open_userid=None, ids_only=self.ids_only, deleted=True))
        wait_callbacks(self.app)

    def dept(self, change: str, dept_id: int, data: dict[str, Any] | None = None) -> None:
        if change == "create_party":
            dept = self.state.add_department(CORP, {"id": dept_id, **(data or {})})
            self._send(change, department_fields(dept, ids_only=self.ids_only))
        elif change == "update_party":
            dept = self.state.update_department(CORP, dept_id, **(data or {}))
            self._send(change, department_fields(dept, changed=set(data or {}), ids_only=self.ids_only))
        else:
            dept = self.state.delete_department(CORP, dept_id)
            self._send(change, department_fields(dept, deleted=True))
        wait_callbacks(self.app)


@pytest.mark.parametrize("ids_only", [False, True], ids=["full", "ids-only"])
@pytest.mark.parametrize("fmt", ["event", "info"], ids=["MsgType-event", "InfoType"])
def test_each_contact_change_is_applied_at_once(corp: Any, app: jitlite.App, sandbox: Sandbox, fmt: str,
                                                ids_only: bool) -> None:
    corp.syncCorp()
    changes = Changes(app, sandbox, fmt, ids_only)
    api_calls_before = len(sandbox.state.request_log("/cgi-bin/user/get"))

    changes.dept("create_party", 6, {"name": "测试组", "parentid": 2, "order": 3})
    assert depts_of(corp)["6"] == ("测试组", "2", "/1/2/6/")
    changes.member("create_user", "newbie", {"userid": "newbie", "name": "新人", "department": [6],
                                              "mobile": "13800000099", "position": "实习生"})
    newbie = corp.getMember("newbie")
    assert (newbie.name, newbie.phone, newbie.position, newbie.deptIds, newbie.status) == (
        "新人", "13800000099", "实习生", ["6"], "active")
    changes.member("update_user", "lina", {"name": "李娜娜", "department": [4, 6], "is_leader_in_dept": [1, 0]})
    lina = corp.getMember("lina")
    assert (lina.name, lina.deptIds, lina.isLeader) == ("李娜娜", ["4", "6"], True)
    changes.dept("update_party", 5, {"name": "大前端组"})
    changes.dept("update_party", 3, {"parentid": 2})
    assert depts_of(corp)["5"][0] == "大前端组" and depts_of(corp)["3"] == ("销售部", "2", "/1/2/3/")
    changes.member("delete_user", "newbie")
    assert corp.getMember("newbie").status == "offline"
    changes.member("update_user", "lina", {"department": [4], "is_leader_in_dept": [1]})
    changes.dept("delete_party", 6)
    assert "6" not in depts_of(corp)
    # Events carrying ids only had to read the entity; full ones did not.
    fetched = len(sandbox.state.request_log("/cgi-bin/user/get")) - api_calls_before
    assert fetched == (3 if ids_only else 0)
    # Everything was applied exactly: a full sync now finds nothing to change.
    report = corp.syncCorp()
    assert (report["created"], report["updated"], report["offline"], report["deleted"]) == (0, 0, 0, 0)
    notes = [r.note for r in service(app).records.query(orderList=[["id", 1]], size=100)["rowDatas"]
             if r.infoType == "change_contact"]
    assert len(notes) == 8 and all(note for note in notes)


def test_a_renamed_userid_moves_the_member_and_its_roles(corp: Any, app: jitlite.App) -> None:
    corp.syncCorp()
    corp.setUserRole("lina", ["admin"])
    xml = contact_event_xml(CORP, int(time.time()), "update_user",
                            [("UserID", "lina"), ("NewUserID", "lina.li"), ("Position", "后端经理")])
    deliver(app, xml, CORP)
    assert corp.getMember("lina") is None
    moved = corp.getMember("lina.li")
    assert moved.name == "李娜" and moved.position == "后端经理"
    assert [r.roleId for r in corp.setUserRole("lina.li", ["admin", "dev"])] == ["admin", "dev"]


def test_events_route_to_runtime_corps_and_odd_events_are_noted(app: jitlite.App, sandbox: Sandbox) -> None:
    sandbox.state.add_corp(second_corp())
    authorise(app, sandbox, SECOND_CORP)
    # Never synced: the event is left to the first sync.
    sandbox.state.update_member(SECOND_CORP, "sunli", name="孙丽丽")
    wait_callbacks(app)
    runtime = app.getElement("corps.QywxProxyType").forCorp(SECOND_CORP, authFullName=PROXY)
    assert runtime.getMember("sunli") is None
    last = service(app).records.query(orderList=[["id", -1]], size=1)["rowDatas"][0]
    assert "never synced" in last.note
    runtime.syncCorp()
    sandbox.state.update_member(SECOND_CORP, "sunli", position="市场总监")
    wait_callbacks(app)
    assert runtime.getMember("sunli").position == "市场总监"
    assert members_of(runtime)["sunli"]["name"] == "孙丽丽"
    deliver(app, contact_event_xml(SECOND_CORP, int(time.time()), "update_tag", [("TagId", "1")]), SECOND_CORP)
    last = service(app).records.query(orderList=[["id", -1]], size=1)["rowDatas"][0]
    assert "tags are not synced" in last.note and last.status == "done"
    # A member who left the app's visible range since: user/get answers 60011, the member goes offline.
    sandbox.state.add_fault("/cgi-bin/user/get", errcode=60011, params={"userid": "lina"})
    deliver(app, contact_event_xml(SECOND_CORP, int(time.time()), "update_user", [("UserID", "lina")]), SECOND_CORP)
    assert runtime.getMember("lina").status == "offline"
