"""Callback pushes: what WeCom would send (decrypted with wechatpy), retries, the ticket thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from werkzeug.serving import make_server

from jitlite.sandbox.defaults import (
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_PROVIDER_CORP_ID,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_TOKEN,
)
from jitlite.sandbox.testing import RecordingReceiver, Sandbox

from ..waiting import wait_for

ApiT = Any
Decrypt = Callable[..., dict[str, Any]]
Outer = Callable[..., dict[str, Any]]

SUITE_URL = "https://jitlite.test/wecom/suite"
DATA_URL = "https://data.jitlite.test/wecom/corp"
THIRD_PARTY = "wwthirdpartysuite01"


@pytest.fixture
def receiver(sandbox: Sandbox) -> RecordingReceiver:
    """Route every push to a receiver that answers success, and give the default suite a URL."""
    recorder = RecordingReceiver()
    sandbox.route_pushes_to(recorder)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    return recorder


def test_suite_ticket_push_is_what_wecom_sends(sandbox: Sandbox, api: ApiT, receiver: RecordingReceiver,
                                               decrypt: Decrypt, outer: Outer) -> None:
    [ticket] = sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    [push] = receiver.received
    assert push.method == "POST" and push.path == "/wecom/suite"
    assert set(push.query) == {"msg_signature", "timestamp", "nonce"}
    envelope = outer(push)
    assert envelope["ToUserName"] == DEFAULT_SUITE_ID and envelope["AgentID"] is None
    message = decrypt(push, DEFAULT_SUITE_ID)
    assert message == {"SuiteId": DEFAULT_SUITE_ID, "InfoType": "suite_ticket",
                       "TimeStamp": str(sandbox.state.clock.timestamp()), "SuiteTicket": ticket.value}
    with pytest.raises(InvalidCorpIdException):
        decrypt(push, DEFAULT_CORP_ID)  # addressed to the suite, not the corp
    body = {"suite_id": DEFAULT_SUITE_ID, "suite_secret": "sandbox-suite-secret",
            "suite_ticket": message["SuiteTicket"]}
    assert api.post("/cgi-bin/service/get_suite_token", body)["errcode"] == 0
    [record] = sandbox.state.push_log()
    assert (record.event, record.attempt, record.status, record.answer, record.ok) == (
        "suite_ticket", 1, 200, "success", True)
    assert record.url == SUITE_URL


def test_auth_events(sandbox: Sandbox, api: ApiT, receiver: RecordingReceiver, decrypt: Decrypt) -> None:
    state = sandbox.state
    state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, state="st-1")
    created = decrypt(receiver.received[-1], DEFAULT_SUITE_ID)
    assert created["InfoType"] == "create_auth" and created["State"] == "st-1"
    permanent = api.permanent_code(created["AuthCode"])
    authorization = state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert authorization is not None and permanent == authorization.permanent_code

    state.change_auth(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, allow_party=[2])
    changed = decrypt(receiver.received[-1], DEFAULT_SUITE_ID)
    assert changed["InfoType"] == "change_auth" and changed["AuthCorpId"] == DEFAULT_CORP_ID

    state.reset_permanent_code(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    reset = decrypt(receiver.received[-1], DEFAULT_SUITE_ID)
    assert reset["InfoType"] == "reset_permanent_code"
    assert api.permanent_code(reset["AuthCode"]) != permanent

    state.cancel_auth(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    cancelled = decrypt(receiver.received[-1], DEFAULT_SUITE_ID)
    assert cancelled == {"SuiteId": DEFAULT_SUITE_ID, "InfoType": "cancel_auth",
                         "TimeStamp": cancelled["TimeStamp"], "AuthCorpId": DEFAULT_CORP_ID}
    assert [r.event for r in state.push_log()] == ["create_auth", "change_auth", "reset_permanent_code",
                                                   "cancel_auth"]


def test_customized_app_gets_event_style_contact_changes(sandbox: Sandbox, receiver: RecordingReceiver,
                                                         decrypt: Decrypt, outer: Outer) -> None:
    state = sandbox.state
    state.update_suite(DEFAULT_SUITE_ID, data_callback_url=DATA_URL)
    state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    authorization = state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert authorization is not None
    agent_id = authorization.agent_id
    state.add_member(DEFAULT_CORP_ID, {"userid": "sunli", "name": "孙丽", "department": [4],
                                       "mobile": "13900000001", "position": "工程师", "gender": 2})
    push = receiver.received[-1]
    assert push.path == "/wecom/corp"
    assert outer(push) == {"ToUserName": DEFAULT_CORP_ID, "Encrypt": outer(push)["Encrypt"],
                           "AgentID": str(agent_id)}
    with pytest.raises(InvalidCorpIdException):
        decrypt(push, DEFAULT_SUITE_ID)
    message = decrypt(push, DEFAULT_CORP_ID)  # corp callbacks are addressed to the corp
    assert message["MsgType"] == "event" and message["Event"] == "change_contact"
    assert message["ChangeType"] == "create_user" and message["ToUserName"] == DEFAULT_CORP_ID
    assert message["UserID"] == "sunli" and message["Name"] == "孙丽"
    assert message["Department"] == "4" and message["IsLeaderInDept"] == "0"
    assert message["Mobile"] == "13900000001" and message["Gender"] == "2"
    assert "OpenUserID" not in message and "SuiteId" not in message

    state.update_member(DEFAULT_CORP_ID, "sunli", position="高级工程师")
    updated = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert updated["ChangeType"] == "update_user" and updated["Position"] == "高级工程师"
    assert "Mobile" not in updated and "Department" not in updated  # only what changed

    state.delete_member(DEFAULT_CORP_ID, "sunli")
    deleted = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert (deleted["ChangeType"], deleted["UserID"]) == ("delete_user", "sunli")
    assert "Name" not in deleted


def test_third_party_suite_gets_info_type_contact_changes(sandbox: Sandbox, receiver: RecordingReceiver,
                                                          decrypt: Decrypt) -> None:
    state = sandbox.state
    state.register_suite(THIRD_PARTY, "tp-secret", "tptoken", DEFAULT_ENCODING_AES_KEY, SUITE_URL,
                         kind="third_party", provider_corp_id=DEFAULT_PROVIDER_CORP_ID)
    state.authorize(THIRD_PARTY, DEFAULT_CORP_ID)
    state.update_member(DEFAULT_CORP_ID, "lina", department=[4, 5], is_leader_in_dept=[1, 1])
    message = decrypt(receiver.received[-1], THIRD_PARTY, token="tptoken")
    assert message["InfoType"] == "change_contact" and message["ChangeType"] == "update_user"
    assert message["SuiteId"] == THIRD_PARTY and message["AuthCorpId"] == DEFAULT_CORP_ID
    assert message["UserID"] == "lina"
    assert message["OpenUserID"] == state.open_userid(DEFAULT_PROVIDER_CORP_ID, DEFAULT_CORP_ID, "lina")
    assert message["Department"] == "4,5" and message["IsLeaderInDept"] == "1,1"


def test_department_events(sandbox: Sandbox, receiver: RecordingReceiver, decrypt: Decrypt) -> None:
    state = sandbox.state
    state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    state.add_department(DEFAULT_CORP_ID, {"id": 10, "name": "测试组", "parentid": 2, "order": 3})
    created = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert (created["ChangeType"], created["Id"], created["Name"], created["ParentId"], created["Order"]) == (
        "create_party", "10", "测试组", "2", "3")
    state.update_department(DEFAULT_CORP_ID, 10, name="质量组")
    updated = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert (updated["ChangeType"], updated["Name"]) == ("update_party", "质量组")
    assert "ParentId" not in updated
    state.delete_department(DEFAULT_CORP_ID, 10)
    deleted = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert (deleted["ChangeType"], deleted["Id"]) == ("delete_party", "10")


def test_contact_changes_respect_the_authorised_scope(sandbox: Sandbox, receiver: RecordingReceiver,
                                                      decrypt: Decrypt) -> None:
    state = sandbox.state
    state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, allow_party=[3])
    before = len(receiver.received)
    state.add_member(DEFAULT_CORP_ID, {"userid": "outside", "name": "外人", "department": [4]})
    state.add_department(DEFAULT_CORP_ID, {"id": 11, "name": "外部组", "parentid": 2})
    assert len(receiver.received) == before
    state.update_member(DEFAULT_CORP_ID, "outside", department=[3])  # moves into view
    assert decrypt(receiver.received[-1], DEFAULT_CORP_ID)["ChangeType"] == "update_user"
    state.update_member(DEFAULT_CORP_ID, "outside", department=[4])  # moves out: still told
    assert len(receiver.received) == before + 2
    state.delete_member(DEFAULT_CORP_ID, "outside")
    assert len(receiver.received) == before + 2


def test_ids_only_contact_events(sandbox: Sandbox, receiver: RecordingReceiver, decrypt: Decrypt) -> None:
    sandbox.state.update_suite(DEFAULT_SUITE_ID, contact_ids_only=True)
    sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    sandbox.state.add_member(DEFAULT_CORP_ID, {"userid": "quiet", "name": "安静", "department": [3],
                                               "mobile": "13900000002"})
    message = decrypt(receiver.received[-1], DEFAULT_CORP_ID)
    assert message["UserID"] == "quiet" and message["Department"] == "3"
    assert "Name" not in message and "Mobile" not in message


def test_push_is_retried_until_answered_success(sandbox: Sandbox) -> None:
    receiver = RecordingReceiver(["fail", "success"])
    sandbox.route_pushes_to(receiver)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    log = sandbox.state.push_log()
    assert [(r.attempt, r.answer, r.ok) for r in log] == [(1, "fail", False), (2, "success", True)]
    assert len(receiver.received) == 2
    # Each attempt is signed afresh.
    assert receiver.received[0].query["nonce"] != receiver.received[1].query["nonce"]


def test_push_gives_up_after_three_retries(sandbox: Sandbox) -> None:
    receiver = RecordingReceiver(["fail", (500, "oops"), "Success", "success\n", "success"])
    sandbox.route_pushes_to(receiver)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    log = sandbox.state.push_log()
    assert [(r.attempt, r.status, r.ok) for r in log] == [(1, 200, False), (2, 500, False), (3, 200, False),
                                                         (4, 200, False)]
    assert len(receiver.received) == 4


def test_slow_answers_and_unreachable_receivers_fail(sandbox: Sandbox) -> None:
    sandbox.state.pusher.timeout = 0.1
    sandbox.state.pusher.retries = 1
    sandbox.route_pushes_to(RecordingReceiver(delay=0.15), host="slow.test")
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url="https://slow.test/cb")
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    slow = sandbox.state.push_log()
    assert [r.ok for r in slow] == [False, False]
    assert slow[0].answer == "success" and "no answer within 0.1 s" in (slow[0].error or "")
    sandbox.state.clear_push_log()
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url="https://nowhere.test/cb")
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    unreachable = sandbox.state.push_log()
    assert [r.status for r in unreachable] == [None, None]
    assert "ConnectError" in (unreachable[0].error or "")


def test_backoff_spaces_the_retries(sandbox: Sandbox) -> None:
    sandbox.state.pusher.backoff = 0.05
    sandbox.route_pushes_to(RecordingReceiver(["fail"] * 4))
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    started = time.monotonic()
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    # Waits of 0.05, 0.1 and 0.2 s between the four attempts.
    assert time.monotonic() - started >= 0.35
    assert len(sandbox.state.push_log()) == 4


def test_push_without_a_callback_url_is_logged(sandbox: Sandbox) -> None:
    sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    [record] = sandbox.state.push_log()
    assert record.event == "create_auth" and record.attempt == 0 and not record.ok
    assert record.error == "no callback URL registered" and "<InfoType><![CDATA[create_auth]]>" in record.plaintext


def test_ticket_thread_pushes_on_start_and_periodically_then_stops(sandbox: Sandbox,
                                                                   receiver: RecordingReceiver,
                                                                   decrypt: Decrypt) -> None:
    state = sandbox.state
    state.start_ticket_thread(interval=0.05)
    assert state.ticket_thread_running
    wait_for(lambda: len(receiver.received) >= 3, 3.0, "three pushes", every=0.01)
    thread = state._ticket_thread
    state.stop_ticket_thread()
    assert not state.ticket_thread_running and thread is not None and not thread.alive
    count = len(receiver.received)
    time.sleep(0.15)
    assert len(receiver.received) == count
    tickets = [decrypt(p, DEFAULT_SUITE_ID)["SuiteTicket"] for p in receiver.received]
    assert len(set(tickets)) == len(tickets)
    assert state.latest_suite_ticket(DEFAULT_SUITE_ID).value == tickets[-1]


def test_close_stops_the_ticket_thread_even_while_a_push_waits_to_retry(sandbox: Sandbox) -> None:
    sandbox.state.pusher.backoff = 30.0
    receiver = RecordingReceiver(["fail"] * 10)
    sandbox.route_pushes_to(receiver)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    sandbox.state.start_ticket_thread(interval=60)
    wait_for(lambda: len(receiver.received) == 1, 3.0, "one push", every=0.01)
    started = time.monotonic()
    sandbox.state.close()
    assert time.monotonic() - started < 2
    assert not sandbox.state.ticket_thread_running


def test_receiver_may_call_back_into_the_sandbox_during_a_push(sandbox: Sandbox) -> None:
    from jitlite.wecom.crypto import WeComCrypto

    crypto = WeComCrypto(DEFAULT_SUITE_TOKEN, DEFAULT_ENCODING_AES_KEY, DEFAULT_SUITE_ID)
    answers: list[dict[str, Any]] = []
    app = Flask("receiver")

    @app.post("/wecom/suite")
    def receive() -> str:
        message = crypto.decrypt_message(request.get_data(), request.args["msg_signature"],
                                         request.args["timestamp"], request.args["nonce"])
        if message.fields["InfoType"] == "create_auth":
            # Exchanging the AuthCode at once, inside the push, as DESIGN.md §6 asks.
            with sandbox.client() as client:
                ticket = sandbox.state.issue_suite_ticket(DEFAULT_SUITE_ID).value
                token = client.post("/cgi-bin/service/get_suite_token", json={
                    "suite_id": DEFAULT_SUITE_ID, "suite_secret": "sandbox-suite-secret",
                    "suite_ticket": ticket}).json()["suite_access_token"]
                answers.append(client.post("/cgi-bin/service/v2/get_permanent_code",
                                           params={"suite_access_token": token},
                                           json={"auth_code": message.fields["AuthCode"]}).json())
        return "success"

    sandbox.route_pushes_to(app)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    assert answers and answers[0]["errcode"] == 0
    assert sandbox.state.push_log()[-1].ok


@pytest.fixture
def real_receiver() -> Iterator[tuple[str, RecordingReceiver]]:
    """Serve a RecordingReceiver over real HTTP on a free loopback port."""
    recorder = RecordingReceiver()
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", recorder
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def test_pushes_over_real_http(sandbox: Sandbox, real_receiver: tuple[str, RecordingReceiver],
                               decrypt: Decrypt) -> None:
    url, recorder = real_receiver
    sandbox.state.push_transport = None
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=f"{url}/cb?tenant=t1")
    [ticket] = sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    [push] = recorder.received
    assert push.query["tenant"] == "t1"
    assert decrypt(push, DEFAULT_SUITE_ID)["SuiteTicket"] == ticket.value
    assert sandbox.state.push_log()[-1].ok


def test_a_crashing_receiver_counts_as_failed_attempts(sandbox: Sandbox) -> None:
    app = Flask("crashing")
    app.testing = True  # exceptions propagate out of the app, as in many test set-ups

    @app.post("/wecom/suite")
    def receive() -> str:
        raise RuntimeError("receiver bug")

    sandbox.route_pushes_to(app)
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=SUITE_URL)
    sandbox.authorize()
    log = sandbox.state.push_log()
    assert [r.attempt for r in log] == [1, 2, 3, 4]
    assert all(not r.ok and r.error == "RuntimeError: receiver bug" for r in log)
    assert sandbox.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID) is not None
