"""The sandbox's non-member login codes: an openid and no userid, from the pages, the admin API and Python."""

from __future__ import annotations

import pytest

from jitlite.sandbox.defaults import (
    DEFAULT_AGENT_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_SECRET,
)
from jitlite.sandbox.errors import SandboxError
from jitlite.sandbox.testing import Sandbox


def test_a_nonmember_code_answers_an_openid(sandbox: Sandbox) -> None:
    with sandbox.client() as api:
        token = api.get("/cgi-bin/gettoken", params={"corpid": DEFAULT_CORP_ID,
                                                     "corpsecret": DEFAULT_AGENT_SECRET}).json()["access_token"]
        code = api.post("/sandbox/codes", json={"kind": "nonmember", "corp_id": DEFAULT_CORP_ID,
                                                "person": "visitor"}).json()["code"]
        answer = api.get("/cgi-bin/auth/getuserinfo", params={"access_token": token, "code": code}).json()
        assert answer["errcode"] == 0 and answer["openid"] and "userid" not in answer
        again = api.get("/cgi-bin/auth/getuserinfo", params={"access_token": token, "code": code}).json()
        assert again["errcode"] == 40029  # single use, like every code


def test_a_nonmember_service_app_code(sandbox: Sandbox) -> None:
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    ticket = sandbox.state.latest_suite_ticket(DEFAULT_SUITE_ID)
    assert ticket is not None
    with sandbox.client() as api:
        suite_token = api.post("/cgi-bin/service/get_suite_token", json={
            "suite_id": DEFAULT_SUITE_ID, "suite_secret": DEFAULT_SUITE_SECRET,
            "suite_ticket": ticket.value}).json()["suite_access_token"]
        code = sandbox.state.issue_nonmember_code(None, "visitor", suite_id=DEFAULT_SUITE_ID)
        answer = api.get("/cgi-bin/service/auth/getuserinfo3rd",
                         params={"suite_access_token": suite_token, "code": code}).json()
        assert answer["errcode"] == 0 and answer["openid"] and "userid" not in answer and "corpid" not in answer


def test_nonmember_codes_are_checked(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="is a member of"):
        sandbox.state.issue_nonmember_code(DEFAULT_CORP_ID, "lina")
    with pytest.raises(SandboxError, match="give the corp"):
        sandbox.state.issue_nonmember_code(None, "visitor")
    with pytest.raises(SandboxError, match="name the person"):
        sandbox.state.issue_nonmember_code(DEFAULT_CORP_ID, "")
