"""The corp-level WeCom API: gettoken, identity and contacts, with their documented errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jitlite.sandbox.app import create_sandbox
from jitlite.sandbox.defaults import DEFAULT_AGENT_ID, DEFAULT_AGENT_SECRET, DEFAULT_CORP_ID
from jitlite.sandbox.orgdata import generate_org
from jitlite.sandbox.state import SandboxState
from jitlite.sandbox.testing import Sandbox

ApiT = Any


def test_gettoken_answers_a_token_valid_7200_seconds(api: ApiT) -> None:
    answer = api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=DEFAULT_AGENT_SECRET)
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"
    assert answer["expires_in"] == 7200
    assert len(answer["access_token"]) >= 32
    # Within its life the same token comes back, with the time it has left.
    api.state.advance(1000)
    again = api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=DEFAULT_AGENT_SECRET)
    assert again["access_token"] == answer["access_token"]
    assert again["expires_in"] == 6200


@pytest.mark.parametrize(("params", "errcode"), [
    ({"corpsecret": DEFAULT_AGENT_SECRET}, 41002),
    ({"corpid": DEFAULT_CORP_ID}, 41004),
    ({"corpid": "wwnosuchcorp", "corpsecret": "x"}, 40013),
    ({"corpid": DEFAULT_CORP_ID, "corpsecret": "wrong"}, 40001),
])
def test_gettoken_errors(api: ApiT, params: dict[str, str], errcode: int) -> None:
    answer = api.get("/cgi-bin/gettoken", **params)
    assert answer["errcode"] == errcode
    assert answer["errmsg"]


def test_token_expires_by_the_clock(api: ApiT) -> None:
    token = api.corp_token()
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 0
    api.state.advance(7199)
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 0
    api.state.advance(1)
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 42001
    fresh = api.corp_token()
    assert fresh != token
    assert api.get("/cgi-bin/user/get", access_token=fresh, userid="lina")["errcode"] == 0


def test_missing_invalid_and_revoked_tokens(api: ApiT) -> None:
    assert api.get("/cgi-bin/user/get", userid="lina")["errcode"] == 41001
    assert api.get("/cgi-bin/user/get", access_token="forged", userid="lina")["errcode"] == 40014
    token = api.corp_token()
    assert api.state.revoke_tokens("corp") == 1
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 40014
    # A suite token is no corp token.
    suite_token = api.suite_token()
    assert api.get("/cgi-bin/user/get", access_token=suite_token, userid="lina")["errcode"] == 40014


def test_wrong_method_and_bad_json(api: ApiT, sandbox: Sandbox) -> None:
    token = api.corp_token()
    assert api.post("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID)["errcode"] == 43001
    assert api.get("/cgi-bin/user/list_id", access_token=token)["errcode"] == 43002
    with sandbox.client() as client:
        answer = client.post("/cgi-bin/user/list_id", params={"access_token": token},
                             content=b"{not json").json()
    assert answer["errcode"] == 47001


def test_getuserinfo_codes_are_single_use_and_expire(api: ApiT) -> None:
    token = api.corp_token()
    code = api.state.issue_corp_code(DEFAULT_CORP_ID, "lina", agent_id=DEFAULT_AGENT_ID)
    answer = api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)
    assert answer == {"errcode": 0, "errmsg": "ok", "userid": "lina"}
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)["errcode"] == 40029
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code="made-up")["errcode"] == 40029
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token)["errcode"] == 41008

    late = api.state.issue_corp_code(DEFAULT_CORP_ID, "lina")
    api.state.advance(299)
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=late)["errcode"] == 0
    later = api.state.issue_corp_code(DEFAULT_CORP_ID, "lina")
    api.state.advance(300)
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=later)["errcode"] == 40029


def test_code_of_another_corp_is_invalid(sandbox: Sandbox, api: ApiT) -> None:
    other = generate_org(5, 2, seed=1, corp_id="wwothercorp").corps["wwothercorp"]
    sandbox.state.add_corp(other)
    sandbox.state.register_app("wwothercorp", 1000005, "other-secret")
    code = sandbox.state.issue_corp_code("wwothercorp", next(iter(other.members)))
    token = api.corp_token()
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)["errcode"] == 40029
    # Not spent by the wrong corp: the right one can still use it.
    other_token = api.corp_token("wwothercorp", "other-secret")
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=other_token, code=code)["errcode"] == 0


def test_user_ticket_gives_sensitive_details(api: ApiT) -> None:
    token = api.corp_token()
    code = api.state.issue_corp_code(DEFAULT_CORP_ID, "wangfang", with_ticket=True)
    info = api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)
    assert info["userid"] == "wangfang" and info["expires_in"] == 1800
    detail = api.post("/cgi-bin/auth/getuserdetail", {"user_ticket": info["user_ticket"]}, access_token=token)
    assert detail["errcode"] == 0
    assert detail["mobile"] == "13800000002" and detail["email"] == "wangfang@sandbox.example.com"
    assert detail["gender"] == "2"
    assert api.post("/cgi-bin/auth/getuserdetail", {"user_ticket": "bogus"},
                    access_token=token)["errcode"] == 40029
    api.state.advance(1800)
    assert api.post("/cgi-bin/auth/getuserdetail", {"user_ticket": info["user_ticket"]},
                    access_token=api.corp_token())["errcode"] == 40029


def test_user_get(api: ApiT) -> None:
    token = api.corp_token()
    user = api.get("/cgi-bin/user/get", access_token=token, userid="chenjie")
    assert user["errcode"] == 0
    assert user["name"] == "陈杰" and user["department"] == [4, 5] and user["main_department"] == 4
    assert user["is_leader_in_dept"] == [0, 0] and user["status"] == 1 and user["gender"] == "1"
    assert user["avatar"].endswith("/0") and user["thumb_avatar"].endswith("/100")
    assert "open_userid" not in user  # only third-party apps get open_userid
    assert api.get("/cgi-bin/user/get", access_token=token)["errcode"] == 41009
    assert api.get("/cgi-bin/user/get", access_token=token, userid="nobody")["errcode"] == 60111


def test_user_list_and_simplelist(api: ApiT) -> None:
    token = api.corp_token()
    direct = api.get("/cgi-bin/user/simplelist", access_token=token, department_id=2)
    assert direct["userlist"] == [{"userid": "wangfang", "name": "王芳", "department": [2]}]
    nested = api.get("/cgi-bin/user/simplelist", access_token=token, department_id=2, fetch_child=1)
    assert [u["userid"] for u in nested["userlist"]] == ["wangfang", "lina", "liuyang", "chenjie",
                                                         "yangjing", "zhaolei"]
    detailed = api.get("/cgi-bin/user/list", access_token=token, department_id=3)
    assert [u["userid"] for u in detailed["userlist"]] == ["huangmin", "zhouqiang", "wuxia"]
    assert detailed["userlist"][2]["status"] == 2 and detailed["userlist"][0]["mobile"] == "13800000008"
    assert api.get("/cgi-bin/user/list", access_token=token)["errcode"] == 41019
    assert api.get("/cgi-bin/user/list", access_token=token, department_id=99)["errcode"] == 60003
    assert api.get("/cgi-bin/user/list", access_token=token, department_id="x")["errcode"] == 40058


def test_departments(api: ApiT) -> None:
    token = api.corp_token()
    every = api.get("/cgi-bin/department/list", access_token=token)
    assert [d["id"] for d in every["department"]] == [1, 2, 4, 5, 3]
    assert every["department"][1] == {"id": 2, "name": "研发中心", "name_en": "",
                                      "department_leader": ["wangfang"], "parentid": 1, "order": 1}
    below = api.get("/cgi-bin/department/list", access_token=token, id=2)
    assert [d["id"] for d in below["department"]] == [2, 4, 5]
    simple = api.get("/cgi-bin/department/simplelist", access_token=token, id=2)
    assert simple["department_id"] == [{"id": 2, "parentid": 1, "order": 1},
                                        {"id": 4, "parentid": 2, "order": 1},
                                        {"id": 5, "parentid": 2, "order": 2}]
    one = api.get("/cgi-bin/department/get", access_token=token, id=5)
    assert one["department"]["name"] == "前端组" and one["department"]["department_leader"] == ["yangjing"]
    assert api.get("/cgi-bin/department/get", access_token=token)["errcode"] == 41019
    assert api.get("/cgi-bin/department/get", access_token=token, id=77)["errcode"] == 60003
    assert api.get("/cgi-bin/department/list", access_token=token, id=77)["errcode"] == 60003


def test_visible_range_limits_what_an_app_sees(api: ApiT) -> None:
    api.state.register_app(DEFAULT_CORP_ID, 1000009, "narrow-secret", allow_party=[2])
    token = api.corp_token(secret="narrow-secret")
    listed = api.get("/cgi-bin/department/list", access_token=token)
    assert [d["id"] for d in listed["department"]] == [2, 4, 5]
    assert api.get("/cgi-bin/department/get", access_token=token, id=3)["errcode"] == 60011
    assert api.get("/cgi-bin/department/list", access_token=token, id=1)["errcode"] == 60011
    assert api.get("/cgi-bin/user/get", access_token=token, userid="huangmin")["errcode"] == 60011
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 0
    assert api.get("/cgi-bin/user/list", access_token=token, department_id=3)["errcode"] == 60011
    ids = api.post("/cgi-bin/user/list_id", {}, access_token=token)
    assert {p["userid"] for p in ids["dept_user"]} == {"wangfang", "lina", "liuyang", "chenjie", "yangjing",
                                                     "zhaolei"}


def test_list_id_pages_with_an_opaque_cursor(api: ApiT) -> None:
    token = api.corp_token()
    pairs, cursor, pages = [], "", 0
    while True:
        answer = api.post("/cgi-bin/user/list_id", {"cursor": cursor, "limit": 4}, access_token=token)
        assert answer["errcode"] == 0
        pairs += [(p["userid"], p["department"]) for p in answer["dept_user"]]
        pages += 1
        cursor = answer["next_cursor"]
        if not cursor:
            break
        assert not cursor.isdigit()
    # Eleven (member, department) pairs: chenjie is in two departments.
    assert pages == 3 and len(pairs) == 11 and len(set(pairs)) == 11
    assert ("chenjie", 4) in pairs and ("chenjie", 5) in pairs


@pytest.mark.parametrize("body", [{"limit": 0}, {"limit": 10_001}, {"limit": "10"}, {"cursor": "bm9wZQ"},
                                  {"cursor": 12}])
def test_list_id_rejects_bad_limits_and_cursors(api: ApiT, body: dict[str, Any]) -> None:
    assert api.post("/cgi-bin/user/list_id", body, access_token=api.corp_token())["errcode"] == 40058


def test_list_id_cursor_is_tamper_evident(api: ApiT) -> None:
    token = api.corp_token()
    cursor = api.post("/cgi-bin/user/list_id", {"limit": 2}, access_token=token)["next_cursor"]
    forged = api.state.encode_cursor(DEFAULT_CORP_ID, 2)[:-1] + "A"
    assert cursor != forged
    assert api.post("/cgi-bin/user/list_id", {"cursor": forged}, access_token=token)["errcode"] == 40058


def test_list_id_pages_through_a_hundred_thousand_members() -> None:
    org = generate_org(100_000, 2_000, seed=11)
    state = SandboxState.with_defaults(org)
    app = create_sandbox(state)
    sandbox = Sandbox(state, app, httpx.WSGITransport(app=app))
    corp = org.corps[DEFAULT_CORP_ID]
    expected = {(m.userid, d) for m in corp.members.values() for d in m.department}
    with sandbox.client() as client:
        token = client.get("/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID,
                                                         "corpsecret": DEFAULT_AGENT_SECRET}).json()["access_token"]
        seen: list[tuple[str, int]] = []
        cursor = ""
        pages = 0
        while True:
            answer = client.post("/cgi-bin/user/list_id", params={"access_token": token},
                                 json={"cursor": cursor, "limit": 10_000}).json()
            assert answer["errcode"] == 0
            assert len(answer["dept_user"]) <= 10_000
            seen += [(p["userid"], p["department"]) for p in answer["dept_user"]]
            pages += 1
            cursor = answer["next_cursor"]
            if not cursor:
                break
    assert len(seen) == len(expected) and set(seen) == expected
    assert {userid for userid, _ in seen} == set(corp.members)
    assert pages == -(-len(expected) // 10_000)
    state.close()
