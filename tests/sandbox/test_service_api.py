"""The provider-side WeCom API: suite and provider tokens, authorisation, 代开发 and third-party flows."""

from __future__ import annotations

from typing import Any

import pytest

from jitlite.sandbox.defaults import (
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_PROVIDER_CORP_ID,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_SECRET,
)
from jitlite.sandbox.testing import Sandbox

ApiT = Any

THIRD_PARTY = "wwthirdpartysuite01"


def _suite_token_answer(api: ApiT, **overrides: Any) -> dict[str, Any]:
    body = {"suite_id": DEFAULT_SUITE_ID, "suite_secret": DEFAULT_SUITE_SECRET,
            "suite_ticket": api.state.issue_suite_ticket(DEFAULT_SUITE_ID).value, **overrides}
    return api.post("/cgi-bin/service/get_suite_token", {k: v for k, v in body.items() if v is not None})


def _third_party(sandbox: Sandbox) -> None:
    sandbox.state.register_suite(THIRD_PARTY, "tp-secret", "tptoken", DEFAULT_ENCODING_AES_KEY,
                                 kind="third_party", provider_corp_id=DEFAULT_PROVIDER_CORP_ID)


def test_suite_token(api: ApiT) -> None:
    answer = _suite_token_answer(api)
    assert answer["errcode"] == 0 and answer["expires_in"] == 7200 and answer["suite_access_token"]


@pytest.mark.parametrize(("overrides", "errcode"), [
    ({"suite_id": None}, 41021),
    ({"suite_secret": None}, 41024),
    ({"suite_ticket": None}, 41023),
    ({"suite_id": "tjnosuchsuite"}, 40083),
    ({"suite_secret": "wrong"}, 40080),
    ({"suite_ticket": "never-pushed"}, 40085),
])
def test_suite_token_errors(api: ApiT, overrides: dict[str, Any], errcode: int) -> None:
    assert _suite_token_answer(api, **overrides)["errcode"] == errcode


def test_suite_ticket_must_be_newest_or_under_thirty_minutes_old(api: ApiT) -> None:
    state = api.state
    first = state.issue_suite_ticket(DEFAULT_SUITE_ID).value
    state.advance(600)
    newest = state.issue_suite_ticket(DEFAULT_SUITE_ID).value
    assert _suite_token_answer(api, suite_ticket=first)["errcode"] == 0
    state.advance(1201)  # the first ticket is now 1801 s old and no longer the newest
    assert _suite_token_answer(api, suite_ticket=first)["errcode"] == 40085
    body = {"suite_id": DEFAULT_SUITE_ID, "suite_secret": DEFAULT_SUITE_SECRET, "suite_ticket": newest}
    assert api.post("/cgi-bin/service/get_suite_token", body)["errcode"] == 0


def test_suite_token_expiry_and_errors(api: ApiT) -> None:
    token = api.suite_token()
    assert api.get("/cgi-bin/service/get_pre_auth_code", suite_access_token=token)["errcode"] == 0
    assert api.get("/cgi-bin/service/get_pre_auth_code")["errcode"] == 41022
    assert api.get("/cgi-bin/service/get_pre_auth_code", suite_access_token="nope")["errcode"] == 40082
    api.state.advance(7200)
    assert api.get("/cgi-bin/service/get_pre_auth_code", suite_access_token=token)["errcode"] == 42009


def test_provider_token(api: ApiT) -> None:
    token = api.provider_token()
    assert token
    answer = api.post("/cgi-bin/service/get_provider_token", {"corpid": DEFAULT_PROVIDER_CORP_ID,
                                                              "provider_secret": "wrong"})
    assert answer["errcode"] == 40001
    assert api.post("/cgi-bin/service/get_provider_token",
                    {"corpid": "wwnobody", "provider_secret": "x"})["errcode"] == 40013
    assert api.post("/cgi-bin/service/get_provider_token", {"provider_secret": "x"})["errcode"] == 41002
    assert api.post("/cgi-bin/service/get_provider_token", {"corpid": "x"})["errcode"] == 41004


def test_pre_auth_code_and_session_info(api: ApiT) -> None:
    token = api.suite_token()
    answer = api.get("/cgi-bin/service/get_pre_auth_code", suite_access_token=token)
    assert answer["expires_in"] == 1200
    ok = api.post("/cgi-bin/service/set_session_info",
                  {"pre_auth_code": answer["pre_auth_code"], "session_info": {"appid": [], "auth_type": 1}},
                  suite_access_token=token)
    assert ok == {"errcode": 0, "errmsg": "ok"}
    bad = api.post("/cgi-bin/service/set_session_info", {"pre_auth_code": "nope"}, suite_access_token=token)
    assert bad["errcode"] == 40077
    api.state.advance(1200)
    late = api.post("/cgi-bin/service/set_session_info", {"pre_auth_code": answer["pre_auth_code"]},
                    suite_access_token=api.suite_token())
    assert late["errcode"] == 42007


def test_permanent_code_v1_returns_everything(api: ApiT) -> None:
    code = api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, allow_party=[2], state="s1")
    answer = api.post("/cgi-bin/service/get_permanent_code", {"auth_code": code.value},
                      suite_access_token=api.suite_token())
    assert answer["errcode"] == 0
    auth = api.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert answer["permanent_code"] == auth.permanent_code
    assert answer["expires_in"] == 7200 and answer["access_token"]
    assert answer["auth_corp_info"]["corpid"] == DEFAULT_CORP_ID
    assert answer["auth_corp_info"]["corp_name"] == "沙盒科技"
    agent = answer["auth_info"]["agent"][0]
    assert agent["agentid"] == auth.agent_id and agent["is_customized_app"] is True
    assert agent["privilege"]["allow_party"] == [2]
    assert answer["auth_user_info"]["userid"] == "zhangwei"  # the corp admin authorised it
    # The corp token that came with it sees only the authorised departments.
    token = answer["access_token"]
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 0
    assert api.get("/cgi-bin/user/get", access_token=token, userid="huangmin")["errcode"] == 60011


def test_permanent_code_v2_and_single_use_auth_code(api: ApiT) -> None:
    code = api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, state="from-qr")
    token = api.suite_token()
    answer = api.post("/cgi-bin/service/v2/get_permanent_code", {"auth_code": code.value},
                      suite_access_token=token)
    assert answer["errcode"] == 0 and answer["state"] == "from-qr"
    assert answer["auth_corp_info"] == {"corpid": DEFAULT_CORP_ID, "corp_name": "沙盒科技"}
    assert "access_token" not in answer
    again = api.post("/cgi-bin/service/v2/get_permanent_code", {"auth_code": code.value},
                     suite_access_token=token)
    assert again["errcode"] == 40029
    assert api.post("/cgi-bin/service/v2/get_permanent_code", {},
                    suite_access_token=token)["errcode"] == 41008


def test_auth_code_expires_after_ten_minutes(api: ApiT) -> None:
    code = api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    api.state.advance(600)
    answer = api.post("/cgi-bin/service/get_permanent_code", {"auth_code": code.value},
                      suite_access_token=api.suite_token())
    assert answer["errcode"] == 40029


def test_auth_code_of_another_suite_is_invalid(sandbox: Sandbox, api: ApiT) -> None:
    _third_party(sandbox)
    code = api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    other = api.suite_token(THIRD_PARTY, "tp-secret")
    assert api.post("/cgi-bin/service/get_permanent_code", {"auth_code": code.value},
                    suite_access_token=other)["errcode"] == 40029


def test_customized_app_gets_corp_token_from_gettoken_with_permanent_code(api: ApiT) -> None:
    permanent = api.permanent_code(api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).value)
    token = api.corp_token(DEFAULT_CORP_ID, permanent)
    assert api.get("/cgi-bin/department/list", access_token=token)["errcode"] == 0
    # get_corp_token answers the same token for the same authorisation.
    same = api.post("/cgi-bin/service/get_corp_token",
                    {"auth_corpid": DEFAULT_CORP_ID, "permanent_code": permanent},
                    suite_access_token=api.suite_token())
    assert same["access_token"] == token


def test_auth_info_and_corp_token_errors(api: ApiT) -> None:
    permanent = api.permanent_code(api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).value)
    suite_token = api.suite_token()
    for path in ("/cgi-bin/service/get_auth_info", "/cgi-bin/service/v2/get_auth_info"):
        info = api.post(path, {"auth_corpid": DEFAULT_CORP_ID, "permanent_code": permanent},
                        suite_access_token=suite_token)
        assert info["errcode"] == 0 and info["auth_corp_info"]["corp_full_name"] == "沙盒科技有限公司"
        assert info["auth_info"]["agent"][0]["privilege"]["allow_party"] == [1]
    for body, errcode in (({"permanent_code": permanent}, 41002),
                          ({"auth_corpid": DEFAULT_CORP_ID}, 41025),
                          ({"auth_corpid": DEFAULT_CORP_ID, "permanent_code": "wrong"}, 40084)):
        answer = api.post("/cgi-bin/service/get_corp_token", body, suite_access_token=suite_token)
        assert answer["errcode"] == errcode


def test_cancel_auth_stops_the_permanent_code_and_its_tokens(api: ApiT) -> None:
    permanent = api.permanent_code(api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).value)
    token = api.corp_token(DEFAULT_CORP_ID, permanent)
    api.state.cancel_auth(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 40014
    assert api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=permanent)["errcode"] == 40001
    # Authorising again gives a new permanent code.
    again = api.permanent_code(api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).value)
    assert again != permanent


def test_reset_permanent_code_replaces_the_secret(api: ApiT) -> None:
    old = api.permanent_code(api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).value)
    code = api.state.reset_permanent_code(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=old)["errcode"] == 40001
    new = api.permanent_code(code.value)
    assert new != old
    assert api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=new)["errcode"] == 0


def test_third_party_login_and_masked_contacts(sandbox: Sandbox, api: ApiT) -> None:
    _third_party(sandbox)
    permanent = api.permanent_code(api.state.authorize(THIRD_PARTY, DEFAULT_CORP_ID).value,
                                   api.suite_token(THIRD_PARTY, "tp-secret"))
    # A third-party suite gets no corp token from gettoken; get_corp_token is its way.
    assert api.get("/cgi-bin/gettoken", corpid=DEFAULT_CORP_ID, corpsecret=permanent)["errcode"] == 40001
    suite_token = api.suite_token(THIRD_PARTY, "tp-secret")
    corp_token = api.post("/cgi-bin/service/get_corp_token",
                          {"auth_corpid": DEFAULT_CORP_ID, "permanent_code": permanent},
                          suite_access_token=suite_token)["access_token"]
    user = api.get("/cgi-bin/user/get", access_token=corp_token, userid="lina")
    assert user["name"] == "lina" and "mobile" not in user and user["open_userid"].startswith("wo")
    ids = api.post("/cgi-bin/user/list_id", {"limit": 3}, access_token=corp_token)["dept_user"]
    assert all(set(p) == {"open_userid", "department"} for p in ids)

    code = api.state.issue_suite_code(THIRD_PARTY, DEFAULT_CORP_ID, "lina", with_ticket=True)
    info = api.get("/cgi-bin/service/auth/getuserinfo3rd", suite_access_token=suite_token, code=code)
    assert info["corpid"] == DEFAULT_CORP_ID and info["userid"] == "lina"
    assert info["open_userid"] == user["open_userid"]
    detail = api.post("/cgi-bin/service/auth/getuserdetail3rd", {"user_ticket": info["user_ticket"]},
                      suite_access_token=suite_token)
    assert detail["errcode"] == 0 and detail["corpid"] == DEFAULT_CORP_ID and detail["name"] == "lina"
    assert api.get("/cgi-bin/service/auth/getuserinfo3rd", suite_access_token=suite_token,
                   code=code)["errcode"] == 40029


def test_open_userid_is_per_provider(sandbox: Sandbox, api: ApiT) -> None:
    _third_party(sandbox)
    sandbox.state.register_suite("wwotherprovider01", "op", "optoken", DEFAULT_ENCODING_AES_KEY,
                                 kind="third_party", provider_corp_id="wwsomeoneelse")
    api.state.authorize(THIRD_PARTY, DEFAULT_CORP_ID)
    api.state.authorize("wwotherprovider01", DEFAULT_CORP_ID)
    ours = api.get("/cgi-bin/service/auth/getuserinfo3rd", suite_access_token=api.suite_token(THIRD_PARTY, "tp-secret"),
                   code=api.state.issue_suite_code(THIRD_PARTY, DEFAULT_CORP_ID, "lina"))
    theirs = api.get("/cgi-bin/service/auth/getuserinfo3rd",
                     suite_access_token=api.suite_token("wwotherprovider01", "op"),
                     code=api.state.issue_suite_code("wwotherprovider01", DEFAULT_CORP_ID, "lina"))
    assert ours["open_userid"] != theirs["open_userid"]


def test_get_login_info_for_service_app_login(api: ApiT) -> None:
    auth_code = api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    agent_id = api.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).agent_id
    assert auth_code
    token = api.provider_token()
    admin_code = api.state.issue_suite_code(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, "zhangwei")
    info = api.post("/cgi-bin/service/get_login_info", {"auth_code": admin_code}, access_token=token)
    assert info["errcode"] == 0 and info["usertype"] == 2
    assert info["user_info"]["userid"] == "zhangwei" and info["corp_info"] == {"corpid": DEFAULT_CORP_ID}
    assert info["agent"] == [{"agentid": agent_id, "auth_type": 1}]
    member_code = api.state.issue_suite_code(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, "lina")
    assert api.post("/cgi-bin/service/get_login_info", {"auth_code": member_code},
                    access_token=token)["usertype"] == 5
    assert api.post("/cgi-bin/service/get_login_info", {"auth_code": member_code},
                    access_token=token)["errcode"] == 40029
    assert api.post("/cgi-bin/service/get_login_info", {"auth_code": "x"},
                    access_token="bad")["errcode"] == 40082
    api.state.advance(7200)
    assert api.post("/cgi-bin/service/get_login_info", {"auth_code": "x"},
                    access_token=token)["errcode"] == 42001
