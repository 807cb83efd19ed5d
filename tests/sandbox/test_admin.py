"""The admin API under /sandbox/, driven over HTTP as the demo and other processes drive it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, request
from wechatpy.enterprise.crypto import WeChatCrypto

from jitlite.sandbox import Clock, SandboxState
from jitlite.sandbox.defaults import (
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_SECRET,
    DEFAULT_SUITE_TOKEN,
)
from jitlite.sandbox.testing import RecordingReceiver, Sandbox

ApiT = Any
Decrypt = Any


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """Return a client for the admin API."""
    with sandbox.client() as client:
        yield client


def test_overview_masks_secrets(admin: httpx.Client) -> None:
    data = admin.get("/sandbox/").json()
    assert data["ok"] is True
    assert data["corps"] == [{"corp_id": DEFAULT_CORP_ID, "corp_name": "沙盒科技", "members": 10,
                              "departments": 5}]
    [suite] = data["suites"]
    assert suite["suite_id"] == DEFAULT_SUITE_ID and suite["kind"] == "customized"
    assert DEFAULT_SUITE_SECRET not in str(data) and DEFAULT_ENCODING_AES_KEY not in str(data)
    assert data["ticket_thread"] is False and data["wechat_users"] == 3


def test_register_everything_and_use_it(admin: httpx.Client, api: ApiT) -> None:
    assert admin.post("/sandbox/corps", json={
        "corpid": "wwnewcorp", "corp_name": "新公司",
        "departments": [{"id": 1, "name": "新公司", "parentid": 0}],
        "members": [{"userid": "boss", "name": "老板", "department": [1]}]}).json()["members"] == 1
    assert admin.post("/sandbox/apps", json={"corp_id": "wwnewcorp", "agent_id": 1000010,
                                             "secret": "new-secret"}).json()["ok"]
    assert api.get("/cgi-bin/user/get", access_token=api.corp_token("wwnewcorp", "new-secret"),
                   userid="boss")["name"] == "老板"
    assert admin.post("/sandbox/providers", json={"corp_id": "wwprov2", "secret": "p2"}).json()["ok"]
    assert api.post("/cgi-bin/service/get_provider_token",
                    {"corpid": "wwprov2", "provider_secret": "p2"})["errcode"] == 0
    assert admin.post("/sandbox/wechat-apps", json={"appid": "wxadmin0000000001", "secret": "w1",
                                                    "open_account": "acct"}).json()["ok"]
    assert admin.post("/sandbox/wechat-users", json={"key": "wx-dave", "nickname": "戴夫"}).json()["ok"]
    code = admin.post("/sandbox/codes", json={"kind": "wechat", "appid": "wxadmin0000000001",
                                              "user": "wx-dave"}).json()["code"]
    answer = api.get("/sns/oauth2/access_token", appid="wxadmin0000000001", secret="w1", code=code,
                     grant_type="authorization_code")
    assert answer["unionid"] == api.state.unionid("acct", "wx-dave")
    suite = admin.post("/sandbox/suites", json={"suite_id": "tjsecond", "secret": "s", "token": "t",
                                                "encoding_aes_key": DEFAULT_ENCODING_AES_KEY,
                                                "kind": "third_party"}).json()
    assert suite["suite"]["kind"] == "third_party"


def test_authorisation_lifecycle_pushes(sandbox: Sandbox, admin: httpx.Client, api: ApiT,
                                        decrypt: Decrypt) -> None:
    receiver = RecordingReceiver()
    sandbox.route_pushes_to(receiver)
    assert admin.patch(f"/sandbox/suites/{DEFAULT_SUITE_ID}",
                       json={"callback_url": "https://cb.test/suite"}).json()["ok"]
    ticket = admin.post(f"/sandbox/suites/{DEFAULT_SUITE_ID}/ticket").json()["suite_ticket"]
    assert decrypt(receiver.received[-1], DEFAULT_SUITE_ID)["SuiteTicket"] == ticket
    created = admin.post("/sandbox/authorizations", json={"suite_id": DEFAULT_SUITE_ID,
                                                          "corp_id": DEFAULT_CORP_ID,
                                                          "allow_party": [2]}).json()
    assert decrypt(receiver.received[-1], DEFAULT_SUITE_ID)["AuthCode"] == created["auth_code"]
    assert created["agent_id"] > 1000000
    duplicate = admin.post("/sandbox/authorizations", json={"suite_id": DEFAULT_SUITE_ID,
                                                            "corp_id": DEFAULT_CORP_ID})
    assert duplicate.status_code == 400 and "already authorised" in duplicate.json()["error"]
    changed = admin.patch(f"/sandbox/authorizations/{DEFAULT_SUITE_ID}/{DEFAULT_CORP_ID}",
                          json={"allow_party": [3]}).json()
    assert changed["authorization"]["allow_party"] == [3]
    assert "*" in changed["authorization"]["permanent_code"]
    reset = admin.post(f"/sandbox/authorizations/{DEFAULT_SUITE_ID}/{DEFAULT_CORP_ID}/reset-permanent-code")
    assert api.permanent_code(reset.json()["auth_code"])
    assert admin.delete(f"/sandbox/authorizations/{DEFAULT_SUITE_ID}/{DEFAULT_CORP_ID}").json()[
        "authorization"]["active"] is False
    events = [p["event"] for p in admin.get("/sandbox/pushes").json()["pushes"]]
    assert events == ["suite_ticket", "create_auth", "change_auth", "reset_permanent_code", "cancel_auth"]
    assert len(admin.get("/sandbox/pushes", params={"event": "change_auth"}).json()["pushes"]) == 1
    admin.delete("/sandbox/pushes")
    assert admin.get("/sandbox/pushes").json()["pushes"] == []


def test_org_edits(sandbox: Sandbox, admin: httpx.Client, api: ApiT, decrypt: Decrypt) -> None:
    receiver = RecordingReceiver()
    sandbox.route_pushes_to(receiver)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url="https://cb.test/suite")
    sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    base = f"/sandbox/corps/{DEFAULT_CORP_ID}"
    assert admin.post(f"{base}/departments", json={"id": 6, "name": "运维组", "parentid": 2}).json()["ok"]
    assert admin.post(f"{base}/members", json={"userid": "ops", "name": "运维", "department": [6]}).json()["ok"]
    assert admin.patch(f"{base}/members/ops", json={"position": "SRE"}).json()["member"]["position"] == "SRE"
    refused = admin.delete(f"{base}/departments/6")
    assert refused.status_code == 400 and refused.json()["errcode"] == 60005
    assert admin.delete(f"{base}/members/ops").json()["ok"]
    assert admin.patch(f"{base}/departments/6", json={"name": "平台组"}).json()["department"]["name"] == "平台组"
    assert admin.delete(f"{base}/departments/6").json()["ok"]
    changes = [decrypt(p, DEFAULT_CORP_ID)["ChangeType"] for p in receiver.received[1:]]
    assert changes == ["create_party", "create_user", "update_user", "delete_user", "update_party",
                       "delete_party"]
    unknown = admin.patch(f"{base}/members/lina", json={"shoe_size": 42})
    assert unknown.status_code == 400 and unknown.json()["errcode"] == 40058
    assert admin.get(f"{base}").json()["corp"]["corpid"] == DEFAULT_CORP_ID
    assert admin.get("/sandbox/corps/wwnothere").status_code == 400


def test_clock_codes_tokens_and_request_log(admin: httpx.Client, api: ApiT) -> None:
    before = admin.get("/sandbox/clock").json()["now"]
    assert admin.post("/sandbox/clock/advance", json={"seconds": 90}).json()["now"] == before + 90
    assert admin.post("/sandbox/clock/advance", json={"seconds": -1}).status_code == 400
    code = admin.post("/sandbox/codes", json={"kind": "corp", "corp_id": DEFAULT_CORP_ID,
                                              "userid": "lina"}).json()["code"]
    token = api.corp_token()
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=code)["userid"] == "lina"
    assert admin.post("/sandbox/tokens/revoke", json={"kind": "corp"}).json()["revoked"] == 1
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 40014
    log = admin.get("/sandbox/requests", params={"path": "/cgi-bin/gettoken"}).json()["requests"]
    assert log[0]["query"]["corpid"] == DEFAULT_CORP_ID
    assert log[0]["query"]["corpsecret"] != "sandbox-corp-secret" and "*" in log[0]["query"]["corpsecret"]
    assert log[0]["errcode"] == 0 and log[0]["status"] == 200
    assert all("/sandbox/" not in r["path"] for r in admin.get("/sandbox/requests").json()["requests"])
    admin.delete("/sandbox/requests")
    assert admin.get("/sandbox/requests").json()["requests"] == []
    bad_kind = admin.post("/sandbox/codes", json={"kind": "magic"})
    assert bad_kind.status_code == 400


def test_ticket_thread_through_the_admin_api(sandbox: Sandbox, admin: httpx.Client) -> None:
    receiver = RecordingReceiver()
    sandbox.route_pushes_to(receiver)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url="https://cb.test/suite")
    assert admin.post("/sandbox/ticket-thread", json={"enabled": True, "interval": 30}).json()["running"]
    assert admin.post("/sandbox/ticket-thread", json={"enabled": False}).json()["running"] is False
    assert len(receiver.received) == 1  # the push on start
    assert admin.post("/sandbox/tickets").json()["tickets"].keys() == {DEFAULT_SUITE_ID}


@pytest.mark.parametrize(("path", "body"), [
    ("/sandbox/suites", {"suite_id": "x"}),
    ("/sandbox/apps", {"corp_id": "wwnothere", "agent_id": 1, "secret": "s"}),
    ("/sandbox/suites", {"suite_id": "x", "secret": "s", "token": "t", "encoding_aes_key": "short"}),
    ("/sandbox/suites", {"suite_id": "x", "secret": "s", "token": "t",
                         "encoding_aes_key": DEFAULT_ENCODING_AES_KEY, "callback_url": "file:///etc"}),
    ("/sandbox/authorizations", {"suite_id": DEFAULT_SUITE_ID, "corp_id": DEFAULT_CORP_ID, "allow_party": [99]}),
    ("/sandbox/wechat-apps", {"appid": "wx", "secret": "s", "colour": "red"}),
])
def test_admin_errors_answer_400(admin: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = admin.post(path, json=body)
    assert response.status_code == 400 and response.json()["error"]


def test_admin_rejects_a_body_that_is_not_an_object(admin: httpx.Client) -> None:
    response = admin.post("/sandbox/providers", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON object" in response.json()["error"]


ENVELOPE_TIME = 1_600_000_000


def test_url_checks_and_pushes_share_the_envelope_clock() -> None:
    """A sandbox built with its own envelope clock signs URL verifications with it, as it signs pushes."""
    crypto = WeChatCrypto(DEFAULT_SUITE_TOKEN, DEFAULT_ENCODING_AES_KEY, DEFAULT_SUITE_ID)
    timestamps: list[tuple[str, str]] = []
    receiver = Flask("receiver")

    @receiver.get("/cb")
    def verify() -> str:
        timestamps.append(("GET", request.args["timestamp"]))
        echo: str = crypto.check_signature(request.args["msg_signature"], request.args["timestamp"],
                                           request.args["nonce"], request.args["echostr"])
        return echo

    @receiver.post("/cb")
    def push() -> str:
        timestamps.append(("POST", request.args["timestamp"]))
        return "success"

    with SandboxState.with_defaults(clock=Clock(frozen=True), push_backoff=0.0,
                                    envelope_time=lambda: ENVELOPE_TIME + 0.5) as state:
        sandbox = Sandbox.start(state)
        sandbox.route_pushes_to(receiver)
        with sandbox.client() as admin:
            path = f"/sandbox/suites/{DEFAULT_SUITE_ID}/callback-url"
            answer = admin.post(path, json={"callback_url": "https://app.test/cb"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["checks"]["callback_url"]["time"] == ENVELOPE_TIME + 0.5
            state.push_suite_ticket(DEFAULT_SUITE_ID)
            assert timestamps == [("GET", str(ENVELOPE_TIME)), ("POST", str(ENVELOPE_TIME))]
            [kept] = admin.get(path).json()["checks"]
            assert (kept["url"], kept["ok"], kept["status"]) == ("https://app.test/cb", True, 200)
