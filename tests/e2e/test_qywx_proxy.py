"""auths.loginTypes.QywxProxyType end to end, against the sandbox: callbacks, authorisation, logins."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import jitlite
from jitlite import CorpNotAuthorized, LoginInactive, LoginStateInvalid
from jitlite.runtime import clock
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.wecom.context import WeComContext

from .conftest import PROXY, service

CORP = DEFAULT_CORP_ID


def authorised(app: jitlite.App, sandbox: Sandbox) -> Any:
    """Push a suite_ticket, authorise the default corp, wait for both callbacks; return the login element."""
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    sandbox.authorize()
    assert service(app).waitIdle(10)
    return app.getElement(PROXY)


def records(app: jitlite.App) -> list[Any]:
    return service(app).records.query(orderList=[["id", 1]], size=100)["rowDatas"]


def test_ticket_authorisation_qr_and_workbench_login(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = authorised(demo, sandbox)
    assert [(r.infoType, r.status) for r in records(demo)] == [("suite_ticket", "done"), ("create_auth", "done")]
    row = login.corpAuth(CORP)
    assert row.status == "active" and row.agentId and row.corpName == "沙盒科技"
    assert row.permanentCode == sandbox.state.authorizations[(DEFAULT_SUITE_ID, CORP)].permanent_code
    assert "permanent_code" not in str(row.authInfo)

    # QR login: the login page (a button stands for the scan) redirects back with a code and the state.
    url = login.buildQrLoginUrl(CORP, "https://app.example/qywx/callback")
    query = parse_qs(urlsplit(url).query)
    assert query["login_type"] == ["CorpApp"] and query["appid"] == [CORP] and query["agentid"] == [row.agentId]
    with sandbox.client() as browser:
        page = browser.get(url)
        assert page.status_code == 200 and "王芳" in page.text
        redirect = browser.post(url, data={"userid": "wangfang"})
    assert redirect.status_code == 302
    back = parse_qs(urlsplit(redirect.headers["location"]).query)
    result = login.getLoginCode(corpId=CORP, code=back["code"][0], loginType="qr", state=back["state"][0])
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]
    session = demo.getElement("auths.services.AuthService").exchangeLoginCode(result["loginCode"], CORP, "web")
    assert session["userId"] == result["userId"]
    assert demo.getElement("auths.services.AuthService").getUser(result["userId"]).name == "王芳"

    # Workbench login: the same member, the same system user, a session token straight away.
    code = sandbox.state.issue_corp_code(CORP, "wangfang", suite_id=DEFAULT_SUITE_ID)
    workbench = service(demo).loginByWorkbench(corpId=CORP, code=code)
    assert workbench["userId"] == result["userId"] and workbench["wecomUserId"] == "wangfang"
    assert workbench["user"]["name"] == "王芳" and workbench["token"]


def test_seed_usage_examples_run_as_written(demo: jitlite.App, sandbox: Sandbox) -> None:
    app = demo
    authorised(app, sandbox)
    # Get login instance / configuration / login code (the seed's Quick Start).
    auth_instance = app.getElement("auths.QywxProxyTemp")
    config = auth_instance.getLoginConfig()
    assert config["suiteId"] == "tjsandboxsuite0001"
    login_result = auth_instance.getLoginCode(
        corpId=CORP,
        code=sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID),
    )
    assert set(login_result) == {"loginCode", "corpList", "userId"}
    result = auth_instance.getLoginCode(
        corpId=CORP, code=sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID),
        loginType="workbench")
    assert result["userId"] == login_result["userId"]
    auth_service = app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService")
    assert "token" in auth_service.loginByWorkbench(
        corpId=CORP, code=sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID))
    auth_service.setCode(corpId=CORP, code="org_code_123")
    config = auth_service.getLoginConfig(code="org_code_123")
    assert (config["corpId"], config["agentId"]) == (CORP, auth_instance.corpAuth(CORP).agentId)
    assert auth_service.getLoginConfigByCode("org_code_123") == config
    assert auth_instance.authConfig["suiteSecret"] == "******"
    assert auth_instance.authType == "auths.loginTypes.QywxProxyType"
    assert auth_instance.authModelElemName == "auths.loginTypes.QywxProxyType.QywxProxyAuthModel"


def test_url_verification(demo: jitlite.App) -> None:
    login = demo.getElement(PROXY)
    timestamp, nonce = str(int(time.time())), "n-verify"
    echostr = login.crypto.encrypt("1616140317555161061", DEFAULT_SUITE_ID)
    signature = login.crypto.signature(timestamp, nonce, echostr)
    response = service(demo).notify(nonce=nonce, msg_signature=signature, timestamp=timestamp, echostr=echostr)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "1616140317555161061")
    assert response.mimetype == "text/plain"
    bad = service(demo).notify(nonce="n2", msg_signature="0" * 40, timestamp=timestamp, echostr=echostr)
    assert bad.status_code == 403 and bad.get_data(as_text=True) == "invalid callback"


def event(login: Any, info_type: str, when: int, nonce: str, **fields: str) -> dict[str, str]:
    """Encrypt a suite event as WeCom would and return notify's arguments."""
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    xml = (f"<xml><SuiteId><![CDATA[{login.suiteId}]]></SuiteId><InfoType><![CDATA[{info_type}]]></InfoType>"
           f"<TimeStamp>{when}</TimeStamp>{inner}</xml>")
    timestamp = str(int(time.time()))
    envelope = login.crypto.encrypt_message(xml, nonce, timestamp, login.suiteId)
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return {"nonce": nonce, "timestamp": timestamp, "body": envelope,
            "msg_signature": login.crypto.signature(timestamp, nonce, encrypt)}


def test_duplicate_delivery_is_processed_once(demo: jitlite.App) -> None:
    login, svc = demo.getElement(PROXY), service(demo)
    first = event(login, "suite_ticket", 1000, "nonce-a", SuiteTicket="ticket-1")
    again = event(login, "suite_ticket", 1000, "nonce-b", SuiteTicket="ticket-1")  # WeCom's retry: same payload
    for args in (first, again, first):  # the last one also replays a nonce
        response = svc.notify(**args)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert svc.waitIdle(10)
    assert [(r.infoType, r.status, r.attempts) for r in records(demo)] == [("suite_ticket", "done", 1)]


def test_only_callbacks_that_cannot_come_again_are_synced_to_disk_before_success(
        demo: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> None:
    login, svc = demo.getElement(PROXY), service(demo)
    durable: dict[str, bool] = {}
    accept = svc.inbox.accept

    def recording_accept(values: dict[str, Any], **options: Any) -> Any:
        durable[values["infoType"]] = options.get("durable", True)  # the inbox's default is durable
        return accept(values, **options)

    monkeypatch.setattr(svc.inbox, "accept", recording_accept)
    for index, (info_type, fields) in enumerate((
            ("suite_ticket", {"SuiteTicket": "t"}), ("change_contact", {"AuthCorpId": CORP, "ChangeType": "x"}),
            ("create_auth", {"AuthCode": "code"}), ("cancel_auth", {"AuthCorpId": CORP}),
            ("change_auth", {"AuthCorpId": CORP}), ("something_new", {}))):
        assert svc.notify(**event(login, info_type, 1000 + index, f"d{index}", **fields)).status_code == 200
    # A ticket comes again in ten minutes; an auth code comes once, and nothing embedded re-reads contacts.
    assert durable == {"suite_ticket": False, "change_contact": True, "create_auth": True, "cancel_auth": True,
                       "change_auth": True, "something_new": True}
    assert svc.waitIdle(10)


def test_a_timestamp_past_the_year_9999_counts_as_none(demo: jitlite.App) -> None:
    login, svc = demo.getElement(PROXY), service(demo)
    answer = svc.notify(**event(login, "suite_ticket", 999999999999, "far", SuiteTicket="t-far"))
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "success")
    assert svc.waitIdle(10)
    [record] = records(demo)
    assert (record.eventTime, record.status) == (None, "done")  # stored and run, ordered as undated


def test_out_of_order_cancel_before_create(demo: jitlite.App, sandbox: Sandbox) -> None:
    login, svc = demo.getElement(PROXY), service(demo)
    svc.notify(**event(login, "suite_ticket", 100, "t1", SuiteTicket=sandbox.state.issue_suite_ticket(
        DEFAULT_SUITE_ID).value))
    auth_code = sandbox.authorize(push=False).value
    svc.notify(**event(login, "cancel_auth", 300, "c1", AuthCorpId=CORP))  # later event, delivered first
    assert svc.waitIdle(10)
    svc.notify(**event(login, "create_auth", 200, "a1", AuthCode=auth_code))
    assert svc.waitIdle(10)
    row = login.authModel.get(f"Q(corpId='{CORP}')")
    assert row.status == "cancelled"
    with pytest.raises(CorpNotAuthorized, match="cancelled"):
        login.getLoginCode(corpId=CORP, code="whatever")


def test_processing_failure_then_retry(demo: jitlite.App, sandbox: Sandbox) -> None:
    svc = service(demo)
    sandbox.authorize()  # create_auth arrives before any suite_ticket: no suite token can be had
    assert svc.waitIdle(10)
    [record] = records(demo)
    # A ticket comes every ten minutes: the record waits (at least a minute) and runs again by itself;
    # retryCallBack runs it at once.
    assert (record.infoType, record.status, record.attempts) == ("create_auth", "pending", 1)
    assert "SuiteTicketMissing" in record.lastError
    assert record.leaseExpiresAt >= clock.utc_now() + timedelta(seconds=50)
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    assert svc.waitIdle(10)
    svc.retryCallBack(recordId=record.id)
    again = svc.records.get(f"Q(id={record.id})")
    assert (again.status, again.attempts, again.lastError) == ("done", 2, None)
    with pytest.raises(ValueError, match="is done; only failed or pending ones are retried"):
        svc.retryCallBack(recordId=record.id)
    with pytest.raises(LookupError):
        svc.retryCallBack(recordId=123456)
    assert demo.getElement(PROXY).corpAuth(CORP).status == "active"


def test_a_callback_that_met_a_passing_fault_runs_again_by_itself_once_due(demo: jitlite.App,
                                                                           sandbox: Sandbox) -> None:
    svc = service(demo)
    sandbox.authorize()  # before any suite_ticket
    assert svc.waitIdle(10)
    [record] = records(demo)
    assert record.status == "pending" and record.note.startswith("attempt 1 of 5 failed; due again at ")
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    assert svc.waitIdle(10)
    assert svc.inbox.sweep() == 0  # not due yet
    later = clock.utc_now().timestamp() + 120  # the first delay is 60-75 s for a missing ticket
    with clock.use_clock(lambda: later):
        assert svc.inbox.sweep() == 1
        assert svc.waitIdle(10)
    done = svc.records.get(f"Q(id={record.id})")
    assert (done.status, done.attempts, done.lastError) == ("done", 2, None)
    assert demo.getElement(PROXY).corpAuth(CORP).status == "active"


def test_cancel_auth_then_login_is_refused(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = authorised(demo, sandbox)
    code = sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID)
    sandbox.state.cancel_auth(DEFAULT_SUITE_ID, CORP)
    assert service(demo).waitIdle(10)
    row = login.authModel.get(f"Q(corpId='{CORP}')")
    assert row.status == "cancelled" and row.permanentCode  # data kept, marked
    with pytest.raises(CorpNotAuthorized, match="cancelled its authorisation"):
        login.getLoginCode(corpId=CORP, code=code)
    with pytest.raises(CorpNotAuthorized):
        service(demo).loginByWorkbench(corpId=CORP, code=code)


def test_callbacks_for_an_unknown_suite_or_tampered_are_refused(demo: jitlite.App) -> None:
    from jitlite.wecom import WeComCrypto

    stranger = WeComCrypto("othertoken", "B" * 43)
    timestamp, nonce = str(int(time.time())), "x1"
    envelope = stranger.encrypt_message("<xml><InfoType>suite_ticket</InfoType></xml>", nonce, timestamp, "tjother")
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    response = service(demo).notify(nonce=nonce, timestamp=timestamp, body=envelope,
                                    msg_signature=stranger.signature(timestamp, nonce, encrypt))
    assert response.status_code == 403 and response.get_data(as_text=True) == "invalid callback"
    # Signed with our token but addressed to a receive-id that is neither the suite nor one of its corps.
    login = demo.getElement(PROXY)
    ticket_xml = "<xml><InfoType>suite_ticket</InfoType></xml>"
    envelope = login.crypto.encrypt_message(ticket_xml, "x2", timestamp, "wwstranger")
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    response = service(demo).notify(nonce="x2", timestamp=timestamp, body=envelope,
                                    msg_signature=login.crypto.signature(timestamp, "x2", encrypt))
    assert response.status_code == 403
    args = event(login, "suite_ticket", 1, "x3", SuiteTicket="t")
    tampered = args["body"].replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
    assert service(demo).notify(**{**args, "body": tampered}).status_code in (400, 403)
    assert service(demo).notify(nonce="x4", timestamp=timestamp, msg_signature="s", body=b"not xml").status_code == 400
    assert records(demo) == []


def test_reset_permanent_code(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = authorised(demo, sandbox)
    old = login.corpAuth(CORP).permanentCode
    sandbox.state.reset_permanent_code(DEFAULT_SUITE_ID, CORP)
    assert service(demo).waitIdle(10)
    new = login.corpAuth(CORP).permanentCode
    assert new != old and new == sandbox.state.authorizations[(DEFAULT_SUITE_ID, CORP)].permanent_code
    code = sandbox.state.issue_corp_code(CORP, "liuyang", suite_id=DEFAULT_SUITE_ID)
    assert login.getLoginCode(corpId=CORP, code=code)["loginCode"]  # works with the new secret


def test_slow_processing_does_not_delay_the_answer(demo: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> None:
    svc, login = service(demo), demo.getElement(PROXY)
    original = svc.handlers["suite_ticket"]

    def slow(instance: Any, fields: dict[str, str]) -> str:
        time.sleep(1.5)
        return str(original(instance, fields))

    monkeypatch.setitem(svc.handlers, "suite_ticket", slow)
    started = time.monotonic()
    response = svc.notify(**event(login, "suite_ticket", 5, "slow-1", SuiteTicket="slow-ticket"))
    elapsed = time.monotonic() - started
    assert response.get_data(as_text=True) == "success" and elapsed < 1.0
    assert records(demo)[0].status in ("pending", "processing")  # persisted before it was answered
    assert svc.waitIdle(10) and records(demo)[0].status == "done"


def test_restart_between_ticket_and_token_loses_nothing(open_demo: Callable[[], jitlite.App],
                                                        sandbox: Sandbox) -> None:
    first = open_demo()
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    assert service(first).waitIdle(10)
    service(first).close()
    restarted = open_demo()  # a new process: caches gone, the database and its ticket kept
    assert WeComContext.of(restarted).tickets.latest(DEFAULT_SUITE_ID) is not None
    sandbox.authorize()
    assert service(restarted).waitIdle(10)
    assert restarted.getElement(PROXY).corpAuth(CORP).status == "active"


def test_state_is_single_use_and_inactive_login_refuses(demo: jitlite.App, sandbox: Sandbox,
                                                        make_app: Callable[..., Any]) -> None:
    login = authorised(demo, sandbox)
    state = login.createState(CORP)
    code = sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID)
    login.getLoginCode(corpId=CORP, code=code, loginType="qr", state=state)
    with pytest.raises(LoginStateInvalid):
        login.getLoginCode(corpId=CORP, code=code, loginType="qr", state=state)
    with pytest.raises(ValueError, match="loginType must be one of qr, workbench"):
        login.getLoginCode(corpId=CORP, code=code, loginType="sms")
    login.config = login.config.model_copy(update={"isActive": False})
    with pytest.raises(LoginInactive):
        login.getLoginCode(corpId=CORP, code=code)


def test_two_suites_in_one_app_keep_their_own_tickets_and_corps(
        open_demo: Callable[[], jitlite.App], sandbox: Sandbox, tmp_path: Any) -> None:
    second_suite, key = "tjsandboxsuite0002", "Z" * 43
    sandbox.state.register_suite(second_suite, "second-secret", "secondtoken", key, kind="customized")
    root = tmp_path / "demo"
    folder = root / "auths" / "QywxProxySecond"
    folder.mkdir(parents=True)
    (folder / "e.json").write_text('{"title": "Second suite", "type": "auths.loginTypes.QywxProxyType"}')
    config = {"authConfig": {"suiteId": second_suite, "suiteSecret": "second-secret", "encodingAESKey": key,
                             "token": "secondtoken"}}
    (folder / "QywxProxySecond.json").write_text(json.dumps(config))
    app = open_demo()
    first, second = app.getElement(PROXY), app.getElement("auths.QywxProxySecond")
    sandbox.state.push_suite_ticket()  # every suite with a callback URL gets its own ticket
    sandbox.authorize(second_suite, CORP)
    assert service(app).waitIdle(10)
    tickets = WeComContext.of(app).tickets
    assert tickets.latest(DEFAULT_SUITE_ID)[0] != tickets.latest(second_suite)[0]  # type: ignore[index]
    assert second.corpAuth(CORP).status == "active"
    with pytest.raises(CorpNotAuthorized):
        first.corpAuth(CORP)  # the first suite was not installed in this corp
    # One shared callback URL works too: the signature tells which suite a callback is for.
    later = int(time.time()) + 60  # newer than the pushed ticket: the newest ticket wins
    shared = service(app).notify(**event(second, "suite_ticket", later, "shared-1", SuiteTicket="via-shared-url"))
    assert shared.get_data(as_text=True) == "success"
    assert service(app).waitIdle(10) and tickets.latest(second_suite)[0] == "via-shared-url"  # type: ignore[index]
    workbench_url = second.buildWorkbenchUrl(CORP, "https://app.example/wb")
    query = parse_qs(urlsplit(workbench_url.split("#")[0]).query)
    assert workbench_url.endswith("#wechat_redirect") and query["scope"] == ["snsapi_base"]
    assert query["appid"] == [CORP] and query["agentid"] == [second.corpAuth(CORP).agentId] and query["state"]
