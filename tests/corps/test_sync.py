"""Full syncs against the sandbox: exact diffs, idempotence, skipped entities, limits, leases, corps apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import jitlite
from jitlite import CorpNotAuthorized
from jitlite.meta.corps import MemberNotFound, organisations, reconcile
from jitlite.runtime import clock
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import Q
from jitlite.wecom import RateLimitedError
from jitlite.wecom.orgsync import OrgSyncBusy

from .conftest import (
    CORP,
    CORP_ELEMENT,
    PROXY,
    SECOND_CORP,
    authorise,
    depts_of,
    members_of,
    mute_callbacks,
    second_corp,
    wait_callbacks,
)

COUNTS = ("created", "updated", "offline", "deleted", "skipped")


def counts(report: dict[str, Any]) -> tuple[int, ...]:
    return tuple(report[k] for k in COUNTS)


def test_first_sync_stores_the_org_as_wecom_has_it(corp: Any) -> None:
    report = corp.syncCorp()
    assert counts(report) == (15, 0, 0, 0, 0)  # 10 members and 5 departments
    assert report["apiCalls"] == 8  # simplelist, list, list_id, and user/list for each of 5 departments
    assert depts_of(corp) == {
        "1": ("沙盒科技", None, "/1/"), "2": ("研发中心", "1", "/1/2/"), "3": ("销售部", "1", "/1/3/"),
        "4": ("后端组", "2", "/1/2/4/"), "5": ("前端组", "2", "/1/2/5/")}
    chenjie = corp.getMember("chenjie")
    assert (chenjie.name, chenjie.phone, chenjie.email, chenjie.position) == (
        "陈杰", "13800000005", "chenjie@sandbox.example.com", "全栈工程师")
    assert (chenjie.deptIds, chenjie.mainDeptId, chenjie.isLeader, chenjie.gender) == (["4", "5"], "4", False, 1)
    assert chenjie.status == "active" and chenjie.wecomStatus == 1 and chenjie.corpId == CORP
    lina = corp.getMember("lina")
    assert lina.isLeader and not corp.getMember("liuyang").isLeader
    # WeCom status 2 (disabled) is offline; 4 (not yet activated) is an active member.
    assert corp.getMember("wuxia").status == "offline" and corp.getMember("zhaolei").status == "active"
    assert {m.memberId for m in corp.getMembers(status="offline")} == {"wuxia"}
    assert len(corp.getMembers(status=1)) == 9 and corp.getMembers(status=2) == corp.getMembers(status="offline")
    with pytest.raises(ValueError, match="'active', 'offline', 1 or 2"):
        corp.getMembers(status="gone")


def test_unchanged_resync_writes_nothing(corp: Any) -> None:
    corp.syncCorp()
    before = {m.memberId: m.updatedAt for m in corp.getMembers()}
    depts_before = {d.deptId: d.updatedAt for d in corp.getDepts()}
    report = corp.syncCorp()
    assert counts(report) == (0, 0, 0, 0, 0) and report["rowsWritten"] == 0
    assert {m.memberId: m.updatedAt for m in corp.getMembers()} == before
    assert {d.deptId: d.updatedAt for d in corp.getDepts()} == depts_before


def test_resync_applies_exactly_what_changed(corp: Any, sandbox: Sandbox) -> None:
    mute_callbacks(sandbox)  # only the sync may see these changes
    state = sandbox.state
    state.add_department(CORP, {"id": 7, "name": "临时组", "parentid": 1})
    corp.syncCorp()
    untouched = members_of(corp)["zhangwei"]
    state.delete_department(CORP, 7)
    state.update_member(CORP, "lina", name="李娜娜", position="后端经理")
    state.update_member(CORP, "liuyang", department=[5])
    state.update_member(CORP, "zhouqiang", status=5)  # quit
    state.delete_member(CORP, "huangmin")
    state.add_department(CORP, {"id": 6, "name": "测试组", "parentid": 2, "order": 3})
    state.add_member(CORP, {"userid": "newbie", "name": "新人", "department": [6], "mobile": "13800000099"})
    state.update_department(CORP, 5, name="大前端组")
    state.update_department(CORP, 3, parentid=2)  # 销售部 moves under 研发中心

    report = corp.syncCorp()
    # created: newbie and dept 6; updated: lina, liuyang, zhouqiang, dept 5, dept 3; offline: huangmin;
    # deleted: dept 7.
    assert counts(report) == (2, 5, 1, 1, 0)
    members = members_of(corp)
    assert (members["lina"]["name"], members["lina"]["position"]) == ("李娜娜", "后端经理")
    assert members["liuyang"]["deptIds"] == ["5"] and members["liuyang"]["mainDeptId"] == "5"
    assert members["zhouqiang"]["status"] == "offline" and members["zhouqiang"]["wecomStatus"] == 5
    assert members["huangmin"]["status"] == "offline" and members["huangmin"]["name"] == "黄敏"  # kept, offline
    assert members["newbie"]["deptIds"] == ["6"] and members["newbie"]["status"] == "active"
    assert members["zhangwei"] == untouched
    depts = depts_of(corp)
    assert depts["6"] == ("测试组", "2", "/1/2/6/") and depts["5"][0] == "大前端组"
    assert depts["3"] == ("销售部", "2", "/1/2/3/") and "7" not in depts
    # A member who left and comes back is active again.
    state.add_member(CORP, {"userid": "huangmin", "name": "黄敏", "department": [3]})
    assert counts(corp.syncCorp()) == (0, 1, 0, 0, 0)
    assert corp.getMember("huangmin").status == "active"


def test_entities_outside_the_visible_range_are_skipped_and_counted(corp: Any, sandbox: Sandbox) -> None:
    corp.syncCorp()
    mute_callbacks(sandbox)
    sandbox.state.update_member(CORP, "huangmin", position="大区经理")
    sandbox.state.update_member(CORP, "zhouqiang", position="高级销售")
    # Department 3's list and one of its members answer 60011; user/list_id still lists them.
    sandbox.state.add_fault("/cgi-bin/user/list", errcode=60011, params={"department_id": 3})
    sandbox.state.add_fault("/cgi-bin/user/get", errcode=60011, params={"userid": "huangmin"})
    report = corp.syncCorp()
    assert report["skipped"] == 2 and sorted(report["skippedIds"]) == ["dept:3", "member:huangmin"]
    assert counts(report)[:4] == (0, 1, 0, 0)  # zhouqiang, read on his own; nobody went offline
    assert corp.getMember("zhouqiang").position == "高级销售"
    assert corp.getMember("huangmin").position == "销售经理" and corp.getMember("huangmin").status == "active"
    sandbox.state.clear_faults()
    assert counts(corp.syncCorp()) == (0, 1, 0, 0, 0)


def test_a_member_record_wecom_sends_malformed_is_skipped_and_the_sync_goes_on(
        corp: Any, sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    corp.syncCorp()
    mute_callbacks(sandbox)
    sandbox.state.update_member(CORP, "lina", is_leader_in_dept=["yes"], position="总监")
    sandbox.state.update_member(CORP, "chenjie", status=[1])  # in two departments' lists
    sandbox.state.update_member(CORP, "zhouqiang", position="高级销售")
    report = corp.syncCorp()
    # One unreadable value does not fail everyone else's sync: lina keeps her stored row (and stays
    # active: she is still listed), zhouqiang's change is written, and the report says who was left,
    # each once however many departments list them.
    assert report["skipped"] == 2 and sorted(report["skippedIds"]) == ["member:chenjie", "member:lina"]
    assert counts(report)[:4] == (0, 1, 0, 0)
    assert corp.getMember("chenjie").status == "active"
    lina = corp.getMember("lina")
    assert (lina.position, lina.isLeader, lina.status) == ("后端组长", True, "active")
    assert corp.getMember("zhouqiang").position == "高级销售"
    assert "member lina of " in caplog.text and "leader flags (is_leader_in_dept) are numbers" in caplog.text
    sandbox.state.update_member(CORP, "lina", is_leader_in_dept=[0])
    sandbox.state.update_member(CORP, "chenjie", status=1)
    assert counts(corp.syncCorp()) == (0, 1, 0, 0, 0) and corp.getMember("lina").position == "总监"


def test_a_narrower_scope_offlines_members_outside_it(corp: Any, sandbox: Sandbox) -> None:
    corp.syncCorp()
    sandbox.state.change_auth(DEFAULT_SUITE_ID, CORP, allow_party=[2])
    report = corp.syncCorp()
    # 研发中心 (2) and its subtree stay; the root and 销售部 leave the scope.
    assert {m.memberId for m in corp.getMembers(status="active")} == {
        "wangfang", "lina", "liuyang", "chenjie", "yangjing", "zhaolei"}
    assert report["offline"] == 3 and report["deleted"] == 1  # dept 3 deleted; the root row is kept
    assert set(depts_of(corp)) == {"1", "2", "4", "5"}


def test_rate_limits_are_honoured(corp: Any, sandbox: Sandbox) -> None:
    # 45033 and -1: retried with backoff, the sync completes.
    sandbox.state.add_fault("/cgi-bin/user/list", errcode=45033, times=2)
    sandbox.state.add_fault("/cgi-bin/department/simplelist", errcode=-1, times=1)
    assert counts(corp.syncCorp()) == (15, 0, 0, 0, 0)
    # 45009: the corp's circuit opens; the sync stops and the next one does not call WeCom at all.
    sandbox.state.add_fault("/cgi-bin/user/list", errcode=45009, times=1)
    with pytest.raises(RateLimitedError) as caught:
        corp.syncCorp()
    assert caught.value.errcode == 45009
    calls = len(sandbox.state.request_log("/cgi-bin/*"))
    with pytest.raises(RateLimitedError, match="paused"):
        corp.syncCorp()
    assert len(sandbox.state.request_log("/cgi-bin/*")) == calls
    state = corp.orgStore.syncState.get(Q(corpFullName=CORP_ELEMENT))
    assert state.status == "failed" and "RateLimitedError" in state.lastError and state.leaseOwner is None
    assert len(corp.getMembers()) == 10  # what was synced stays readable


def test_a_running_sync_holds_a_lease(corp: Any) -> None:
    corp.syncCorp()
    store = corp.orgStore
    later = clock.utc_now() + timedelta(seconds=120)
    store.syncState.updateByFilter(Q(corpFullName=CORP_ELEMENT), {"status": "running", "leaseOwner": "other",
                                                                   "leaseUntil": later})
    with pytest.raises(OrgSyncBusy, match="already running"):
        corp.syncCorp()
    [result] = reconcile(corp.app, only=[corp])
    assert result.skipped and "already running" in result.skipped
    # The holder died: once its lease has expired, the next sync takes over.
    with clock.use_clock(lambda: later.timestamp() + 1):
        assert corp.syncCorp()["rowsWritten"] == 0


def test_cancelled_corp_cannot_sync_and_keeps_its_data(corp: Any, app: jitlite.App, sandbox: Sandbox) -> None:
    corp.syncCorp()
    sandbox.state.cancel_auth(DEFAULT_SUITE_ID, CORP)
    wait_callbacks(app)
    with pytest.raises(CorpNotAuthorized, match=r"cancelled its authorisation.*kept"):
        corp.syncCorp()
    assert len(corp.getMembers()) == 10 and len(corp.getDepts()) == 5
    [result] = reconcile(app, only=[corp])
    assert result.error and "CorpNotAuthorized" in result.error


def test_two_corps_never_mix(open_app: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    sandbox.state.add_corp(second_corp())
    folder = {"corps/SecondCorp/e.json": json.dumps({"type": "corps.QywxProxyType", "title": "Second"}),
              "corps/SecondCorp/SecondCorp.json": json.dumps({"corpId": SECOND_CORP, "authFullName": PROXY})}
    app = open_app(folder)
    authorise(app, sandbox)
    authorise(app, sandbox, SECOND_CORP)
    first, second = app.getElement(CORP_ELEMENT), app.getElement("corps.SecondCorp")
    first.syncCorp()
    second.syncCorp()
    assert {m.memberId for m in second.getMembers()} == {"lina", "wangfang", "sunli"}
    assert second.getMember("lina").name == "李娜(二)" and first.getMember("lina").name == "李娜"
    assert {d.deptId for d in second.getDepts()} == {"1", "2"} and len(first.getDepts()) == 5
    # Offlining, roles and a member leaving stay inside one organisation.
    assert first.offlineMember(["lina", "wangfang"]) == 2
    assert second.getMember("lina").status == "active"
    second.setUserRole("sunli", ["sales"])
    with pytest.raises(MemberNotFound):
        first.setUserRole("sunli", ["sales"])
    mute_callbacks(sandbox)
    sandbox.state.delete_member(SECOND_CORP, "wangfang")
    assert second.syncCorp()["offline"] == 1
    assert first.getMember("wangfang").status == "offline"  # offlined above by hand, not by the sync
    assert first.syncCorp()["updated"] == 2  # WeCom still has both active
    assert first.getMember("wangfang").status == "active" and second.getMember("wangfang").status == "offline"


def test_corps_authorised_at_run_time_need_no_folder(app: jitlite.App, sandbox: Sandbox) -> None:
    sandbox.state.add_corp(second_corp())
    authorise(app, sandbox, SECOND_CORP)
    corp_type = app.getElement("corps.QywxProxyType")
    runtime = corp_type.forCorp(SECOND_CORP, authFullName=PROXY)
    assert runtime is corp_type.forCorp(SECOND_CORP)  # one login element: authFullName may be left out
    assert runtime.isRuntime and runtime.corpId == SECOND_CORP and runtime.authFullName == PROXY
    assert runtime.corpFullName == f"corps.QywxProxyType:{PROXY}:{SECOND_CORP}"
    # initCorp makes the root department first (named after the corp), then syncs the rest.
    assert counts(runtime.initCorp()) == (4, 1, 0, 0, 0) and runtime.getRootDept().name == "第二公司"
    assert {m.memberId for m in runtime.getMembers()} == {"lina", "wangfang", "sunli"}
    assert runtime.getClient().corp_id == SECOND_CORP
    # A corp with a folder is its folder instance.
    assert corp_type.forCorp(CORP, authFullName=PROXY) is app.getElement(CORP_ELEMENT)
    names = {o.corpFullName for o in organisations(app)}
    assert names == {CORP_ELEMENT, runtime.corpFullName}
    results = {r.corpFullName: r for r in reconcile(app)}
    assert results[runtime.corpFullName].report is not None and results[CORP_ELEMENT].report is not None
    assert {r.skipped for r in reconcile(app, minAgeSeconds=3600)} == {"synced recently"}
    with pytest.raises(ValueError, match=r"not a auths\.loginTypes\.QywxProxyType element"):
        corp_type.forCorp(SECOND_CORP, authFullName="auths.Nope")


def test_killed_sync_leaves_readable_rows_and_the_next_one_converges(corp: Any, sandbox: Sandbox) -> None:
    corp.syncCorp()
    mute_callbacks(sandbox)
    sandbox.state.update_member(CORP, "lina", name="李娜娜")
    sandbox.state.delete_member(CORP, "huangmin")
    corp.app.configure(orgSyncBatchSize=1, orgSyncConcurrency=1)
    # The connection drops after a few pages: the run dies without reaching its end.
    sandbox.state.add_fault("/cgi-bin/user/list", drop=True, params={"department_id": 5})
    with pytest.raises(Exception, match="user/list"):
        corp.syncCorp()
    assert corp.getMember("huangmin").status == "active"  # nothing is offlined by an incomplete pull
    assert len(corp.getMembers()) == 10 and len(corp.getDepts()) == 5
    sandbox.state.clear_faults()
    report = corp.syncCorp()
    assert report["offline"] == 1 and corp.getMember("lina").name == "李娜娜"
    assert corp.getMember("huangmin").status == "offline"
