"""Every usage example of the corps.QywxProxyType seed, run as written against the sandbox.

The seed's placeholder ids are real members here (the sandbox corp gets member123, member1, …); only
the corp/suite ids of getAgentId and the department id of getDept ("dept123": WeCom's are numbers)
are the sandbox's.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import jitlite
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox

from .conftest import CORP, PROXY, SECOND_CORP, authorise, second_corp

SEED_MEMBERS = ["member123", "member1", "member2", "manager001", "employee001", "user1", "user2"]


@pytest.fixture
def seed_app(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    for userid in SEED_MEMBERS:
        sandbox.state.add_member(CORP, {"userid": userid, "name": f"成员{userid}", "department": [2]})
    app = open_app()
    authorise(app, sandbox)
    return app


def test_quick_start_and_method_examples(seed_app: jitlite.App, capsys: pytest.CaptureFixture[str]) -> None:
    app = seed_app
    # Usage Example
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp.initCorp()
    corp.syncCorp()
    root_dept = corp.getRootDept()
    print(f"Root Department: {root_dept.name}")
    assert capsys.readouterr().out == "Root Department: 沙盒科技\n"

    # getRootDept
    corp = app.getElement("corps.MyQywxProxyCorp")
    root_dept = corp.getRootDept()
    print(f"Root Department Name: {root_dept.name}")
    print(f"Root Department ID: {root_dept.deptId}")
    assert capsys.readouterr().out == "Root Department Name: 沙盒科技\nRoot Department ID: 1\n"

    # setUserRole
    corp = app.getElement("corps.MyQywxProxyCorp")
    role_members = corp.setUserRole("member123", ["role1", "role2"])
    for role_member in role_members:
        print(f"Member {role_member.memberId}'s role {role_member.roleId}")
    assert capsys.readouterr().out == "Member member123's role role1\nMember member123's role role2\n"

    # syncCorp
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp.syncCorp()
    print("Organizational architecture sync completed")

    # getClient
    corp = app.getElement("corps.MyQywxProxyCorp")
    client = corp.getClient()
    dept_list = client.department.list()
    assert [d["name"] for d in dept_list][:2] == ["沙盒科技", "研发中心"]

    # getAgentId
    from corps.QywxProxyType import QywxProxyCorp  # type: ignore[import-not-found]  # an App resolves it

    agent_id = QywxProxyCorp.getAgentId(CORP, DEFAULT_SUITE_ID)
    print(f"Application ID: {agent_id}")
    assert agent_id == app.getElement(PROXY).corpAuth(CORP).agentId and isinstance(agent_id, str)

    # getThirdCorpData
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp_data = corp.getThirdCorpData()
    print(f"Enterprise Name: {corp_data['corpName']}")
    print(f"Department Count: {len(corp_data['deptList'])}")
    assert capsys.readouterr().out.endswith("Enterprise Name: 沙盒科技\nDepartment Count: 5\n")
    assert set(corp_data) == {"corpId", "corpName", "deptList", "userList"} and len(corp_data["userList"]) == 17

    # bulkRegister: every member becomes a system user bound to its WeCom identity.
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp_data = corp.getThirdCorpData()
    corp.bulkRegister(corp_data)
    print("User batch registration completed")
    auth_service = app.getElement("auths.services.AuthService")
    member = corp.getMember("member123")
    assert member.userId and auth_service.getUser(member.userId).name == "成员member123"
    assert all(m.userId for m in corp.getMembers())

    # offlineMember
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp.offlineMember(["member1", "member2"])
    print("Members have been set to resigned status")
    assert {m.memberId for m in corp.getMembers(status="offline")} == {"member1", "member2", "wuxia"}

    # getDepts
    corp = app.getElement("corps.MyQywxProxyCorp")
    depts = corp.getDepts()
    for dept in depts:
        print(f"Department: {dept.name}")
    assert capsys.readouterr().out.endswith(
        "Department: 沙盒科技\nDepartment: 研发中心\nDepartment: 销售部\nDepartment: 后端组\nDepartment: 前端组\n")

    # getMembers
    corp = app.getElement("corps.MyQywxProxyCorp")
    all_members = corp.getMembers()
    active_members = corp.getMembers(status="active")
    assert len(all_members) == 17 and len(active_members) == 14

    # getMember
    corp = app.getElement("corps.MyQywxProxyCorp")
    member = corp.getMember("member123")
    print(f"Member Name: {member.name}")
    assert capsys.readouterr().out == "Member Name: 成员member123\n"

    # getDept (WeCom department ids are numbers)
    corp = app.getElement("corps.MyQywxProxyCorp")
    dept = corp.getDept("2")
    print(f"Department Name: {dept.name}")
    assert capsys.readouterr().out == "Department Name: 研发中心\n"
    assert corp.getDept("dept123") is None and corp.getMember("nobody") is None

    # Access Properties
    corp = app.getElement("corps.MyQywxProxyCorp")
    print(f"Enterprise ID: {corp.corpId}")
    print(f"Authentication Element: {corp.authFullName}")
    print(f"Organization Name: {corp.title}")
    print(f"Full Name: {corp.corpFullName}")
    assert capsys.readouterr().out == (f"Enterprise ID: {CORP}\nAuthentication Element: {PROXY}\n"
                                       "Organization Name: My WeCom Proxy Development Organization\n"
                                       "Full Name: corps.MyQywxProxyCorp\n")


def test_member_status_and_role_examples(seed_app: jitlite.App) -> None:
    app = seed_app
    # Member Status Management
    corp = app.getElement("corps.MyQywxProxyCorp")
    corp.syncCorp()
    corp.offlineMember(["member1", "member2"])
    active_members = corp.getMembers(status="active")
    offline_members = corp.getMembers(status="offline")
    assert {m.memberId for m in offline_members} == {"member1", "member2", "wuxia"}
    assert len(active_members) == 14

    # Permission Role Assignment
    corp.setUserRole("manager001", ["admin", "dept_manager"])
    corp.setUserRole("employee001", ["employee", "project_member"])
    member_roles = {
        "user1": ["role1", "role2"],
        "user2": ["role2", "role3"],
    }
    for member_id, role_list in member_roles.items():
        corp.setUserRole(member_id, role_list)
    store = corp.orgStore
    held = {(r.memberId, r.roleId) for r in store.roleMembers.query(store.key, size=100)["rowDatas"]}
    assert held == {("manager001", "admin"), ("manager001", "dept_manager"), ("employee001", "employee"),
                    ("employee001", "project_member"), ("user1", "role1"), ("user1", "role2"),
                    ("user2", "role2"), ("user2", "role3")}
    # setUserRole clears first: the new list replaces the old one.
    assert [r.roleId for r in corp.setUserRole("user1", ["role3"])] == ["role3"]
    assert corp.setUserRole("user2", []) == []
    assert {r.roleId for r in store.roles.query(store.key, size=100)["rowDatas"]} == {
        "admin", "dept_manager", "employee", "project_member", "role1", "role2", "role3"}
    with pytest.raises(ValueError, match="list of role ids"):
        corp.setUserRole("user1", "admin")


def test_multi_enterprise_example(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    sandbox.state.add_corp(second_corp())
    files: dict[str, str] = {}
    for name, corp_id in (("CorpA", CORP), ("CorpB", SECOND_CORP)):
        files[f"corps/{name}/e.json"] = json.dumps({"type": "corps.QywxProxyType", "title": name})
        files[f"corps/{name}/{name}.json"] = json.dumps({"corpId": corp_id, "authFullName": PROXY})
    app = open_app(files)
    authorise(app, sandbox)
    authorise(app, sandbox, SECOND_CORP)
    # Enterprise A's organizational architecture
    corp_a = app.getElement("corps.CorpA")
    corp_a.syncCorp()

    # Enterprise B's organizational architecture
    corp_b = app.getElement("corps.CorpB")
    corp_b.syncCorp()

    # Count member numbers of each enterprise
    assert (len(corp_a.getMembers()), len(corp_b.getMembers())) == (10, 3)


def test_get_agent_id_errors(seed_app: jitlite.App, sandbox: Sandbox) -> None:
    from corps.QywxProxyType import QywxProxyCorp  # type: ignore[import-not-found,unused-ignore]  # an App resolves it

    with pytest.raises(jitlite.CorpNotAuthorized, match="has not authorised"):
        QywxProxyCorp.getAgentId("wwnobody", DEFAULT_SUITE_ID)
    sandbox.state.cancel_auth(DEFAULT_SUITE_ID, CORP)
    assert seed_app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService").waitIdle(10)
    with pytest.raises(jitlite.CorpNotAuthorized, match="cancelled"):
        QywxProxyCorp.getAgentId(CORP, DEFAULT_SUITE_ID, app=seed_app)


def test_bulk_register_offlines_members_absent_from_the_data(seed_app: jitlite.App) -> None:
    corp = seed_app.getElement("corps.MyQywxProxyCorp")
    corp.syncCorp()
    data = corp.getThirdCorpData()
    data["userList"] = [u for u in data["userList"] if u["userid"] != "lina"]
    report = corp.bulkRegister(data)
    assert report["offline"] == 1 and corp.getMember("lina").status == "offline"
    with pytest.raises(ValueError, match="userList"):
        corp.bulkRegister({"corpId": CORP})
    with pytest.raises(ValueError, match="not " + CORP):
        corp.bulkRegister({"corpId": "wwother", "userList": []})



def test_element_code_imports_the_type_by_full_name(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    source = ("from corps.QywxProxyType import QywxProxyCorp\n"
              "from services.NormalType import NormalService\n\n\n"
              "class AgentInfo(NormalService):\n"
              "    def agentOf(self, corpId, suiteId):\n"
              "        return QywxProxyCorp.getAgentId(corpId, suiteId)\n\n"
              "    def membersOf(self, corpId):\n"
              "        corp = self.app.getElement('corps.QywxProxyType').forCorp(corpId)\n"
              "        corp.syncCorp()\n"
              "        return len(corp.getMembers())\n")
    app = open_app({"services/AgentInfo/e.json": json.dumps({"title": "Agent info", "type": "services.NormalType"}),
                    "services/AgentInfo/__init__.py": source})
    authorise(app, sandbox)
    service = app.getElement("services.AgentInfo")
    assert service.agentOf(CORP, DEFAULT_SUITE_ID) == app.getElement(PROXY).corpAuth(CORP).agentId
    assert service.membersOf(CORP) == 10  # the corp's folder organisation, reached by its corp id
