"""What the sandbox offers org syncs: faults on one entity, ids-only party events, fresh member lists."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jitlite.sandbox.defaults import DEFAULT_AGENT_SECRET, DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.errors import SandboxError
from jitlite.sandbox.testing import Sandbox
from jitlite.wecom import parse_flat_xml

from ..conftest import ROOT


def _token(sandbox: Sandbox) -> str:
    with sandbox.client() as http:
        answer = http.get("/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID,
                                                       "corpsecret": DEFAULT_AGENT_SECRET}).json()
    return str(answer["access_token"])


def test_a_fault_can_target_one_entity(sandbox: Sandbox) -> None:
    token = _token(sandbox)
    sandbox.state.add_fault("/cgi-bin/user/list", errcode=60011, params={"department_id": 3})
    with sandbox.client() as http:
        assert http.get("/cgi-bin/user/list", params={"access_token": token, "department_id": 3}).json()[
            "errcode"] == 60011
        assert http.get("/cgi-bin/user/list", params={"access_token": token, "department_id": 4}).json()[
            "errcode"] == 0
        # Values in a JSON body count too, and the admin API takes params as well.
        added = http.post("/sandbox/faults", json={"path": "/cgi-bin/user/list_id", "errcode": 45033,
                                                    "params": {"limit": 5}, "times": 1}).json()
        assert added["fault"]["params"] == {"limit": "5"}
        assert http.post("/cgi-bin/user/list_id", params={"access_token": token},
                         json={"limit": 5}).json()["errcode"] == 45033
        assert http.post("/cgi-bin/user/list_id", params={"access_token": token},
                         json={"limit": 5}).json()["errcode"] == 0
    with pytest.raises(SandboxError, match="params"):
        sandbox.state.add_fault("/x", errcode=1, params=["department_id"])  # type: ignore[arg-type]


def test_member_lists_follow_changes(sandbox: Sandbox) -> None:
    token = _token(sandbox)

    def names() -> dict[str, str]:
        with sandbox.client() as http:
            users = http.get("/cgi-bin/user/list", params={"access_token": token, "department_id": 4}).json()
        return {u["userid"]: u["name"] for u in users["userlist"]}

    assert names() == {"lina": "李娜", "liuyang": "刘洋", "chenjie": "陈杰"}
    sandbox.state.update_member(DEFAULT_CORP_ID, "lina", name="李娜娜")
    sandbox.state.delete_member(DEFAULT_CORP_ID, "liuyang")
    assert names() == {"lina": "李娜娜", "chenjie": "陈杰"}


@pytest.mark.parametrize("ids_only", [False, True])
def test_party_events_leave_the_name_out_when_ids_only(sandbox: Sandbox, ids_only: bool) -> None:
    sandbox.state.update_suite(DEFAULT_SUITE_ID, contact_ids_only=ids_only)
    sandbox.authorize()
    sandbox.state.add_department(DEFAULT_CORP_ID, {"id": 9, "name": "新部门", "parentid": 2})
    [push] = sandbox.state.push_log(event="change_contact:create_party")
    message = parse_flat_xml(push.plaintext)
    assert (message["Event"], message["ChangeType"], message["Id"], message["ParentId"]) == (
        "change_contact", "create_party", "9", "2")
    assert ("Name" in message) is not ids_only


def test_the_sandbox_server_prints_its_url_and_serves_a_generated_org() -> None:
    code = ("from jitlite.sandbox.server import serve; "
            "serve(port=0, members=120, depts=6, ticket_interval=0, quiet=True)")
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "jitlite sandbox on http://127.0.0.1:" in line and "120 members" in line
    finally:
        process.terminate()
        process.wait(10)
