"""The web layer through Flask's test client: the login round trip, sessions, and every refusal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jitlite
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import Q
from jitlite.web import create_web_app

from .conftest import (
    AUTH_SERVICE,
    CORP,
    PROXY,
    REDIRECT,
    SERVICE,
    authorise,
    qr_login,
)


def json_error(response: TestResponse, status: int) -> str:
    """Assert a JSON error answer with this status and a request id; return its message."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    return str(body["error"])


def login_code(web: FlaskClient, sandbox: Sandbox, userid: str = "wangfang") -> dict[str, Any]:
    code, state = qr_login(web, sandbox, userid)
    answer = web.post(f"/auth/{PROXY}/login-code", json={"corpId": CORP, "code": code, "state": state,
                                                         "loginType": "qr"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["Cache-Control"] == "no-store"
    result: dict[str, Any] = answer.get_json()
    return result


# -- the round trip --------------------------------------------------------------------------------


def test_qr_login_session_and_logout(web: FlaskClient, sandbox: Sandbox) -> None:
    config = web.get(f"/auth/{PROXY}/config")
    assert config.status_code == 200 and config.get_json()["suiteId"] == DEFAULT_SUITE_ID
    result = login_code(web, sandbox)
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]

    opened = web.post("/auth/session", json={"loginCode": result["loginCode"], "corpId": CORP, "platform": "web"})
    assert opened.status_code == 200 and opened.headers["Cache-Control"] == "no-store"
    session = opened.get_json()
    assert session["userId"] == result["userId"] and session["corpId"] == CORP and session["token"]
    headers = {"Authorization": f"Bearer {session['token']}"}
    current = web.get("/auth/session", headers=headers)
    assert current.status_code == 200 and current.get_json()["corpId"] == CORP
    assert current.headers["Cache-Control"] == "no-store"
    assert web.delete("/auth/session", headers=headers).get_json() == {"loggedOut": True}
    json_error(web.get("/auth/session", headers=headers), 401)
    json_error(web.delete("/auth/session", headers=headers), 401)
    # The login code was spent by the exchange.
    json_error(web.post("/auth/session", json={"loginCode": result["loginCode"], "corpId": CORP}), 401)
    # The sandbox's pushes went through the web layer, each answered "success" at the first attempt.
    pushes = sandbox.state.push_log()
    assert [(p.event, p.attempt, p.status, p.answer) for p in pushes] == [
        ("suite_ticket", 1, 200, "success"), ("create_auth", 1, 200, "success")]
    assert all(p.url == f"http://jitlite-app.test/callbacks/qywx-proxy/{PROXY}" for p in pushes)


def test_workbench_login_answers_a_session_not_to_be_cached(web: FlaskClient, sandbox: Sandbox) -> None:
    code = sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID)
    answer = web.get("/auth/qywx-proxy/workbench", query_string={"appid": CORP, "code": code})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["token"] and answer.get_json()["wecomUserId"] == "lina"
    assert answer.headers["Cache-Control"] == "no-store"
    json_error(web.get("/auth/qywx-proxy/workbench", query_string={"corpId": CORP}), 400)
    json_error(web.get("/auth/qywx-proxy/workbench", query_string={"corpId": "w" * 65, "code": code}), 400)
    json_error(web.get("/auth/qywx-proxy/workbench", query_string={"corpId": CORP, "code": "c" * 513}), 400)
    json_error(web.get("/auth/qywx-proxy/workbench", query_string={"corpId": CORP, "code": code,
                                                                   "platform": "desktop"}), 400)
    json_error(web.get("/auth/qywx-proxy/workbench", query_string={"corpId": CORP, "code": code,
                                                                   "authFullName": "auths.services.AuthService"}), 404)


def test_the_stylesheet_may_be_cached_and_every_other_answer_not(web: FlaskClient) -> None:
    sheet = web.get("/jitlite-static/jitlite.css")
    assert sheet.status_code == 200 and sheet.headers.get("Cache-Control") != "no-store"
    assert web.get("/login").headers["Cache-Control"] == "no-store"


def test_every_response_has_a_request_id_and_keeps_a_plain_one_given(web: FlaskClient) -> None:
    mine = web.get(f"/auth/{PROXY}/config", headers={"X-Request-Id": "trace-42.a_b"})
    assert mine.headers["X-Request-Id"] == "trace-42.a_b"
    forged = web.get(f"/auth/{PROXY}/config", headers={"X-Request-Id": "x y; Set-Cookie: a=b"})
    assert forged.headers["X-Request-Id"] != "x y" and len(forged.headers["X-Request-Id"]) == 16
    json_error(web.get("/no/such/route"), 404)
    response = web.put(f"/auth/{PROXY}/login-code", json={})
    json_error(response, 405)
    assert "POST" in response.headers["Allow"]


# -- item 10: the state a login issued ---------------------------------------------------------------


def test_login_code_without_the_issued_state_is_refused(web: FlaskClient, sandbox: Sandbox) -> None:
    code, state = qr_login(web, sandbox)
    url = f"/auth/{PROXY}/login-code"
    assert "state is required" in json_error(web.post(url, json={"corpId": CORP, "code": code}), 400)
    # An empty or forged state, or one for another corp, is refused too.
    json_error(web.post(url, json={"corpId": CORP, "code": code, "state": ""}), 400)
    json_error(web.post(url, json={"corpId": CORP, "code": code, "state": "f" * 48}), 400)
    json_error(web.post(url, json={"corpId": CORP, "code": code, "state": "s" * 129}), 400)
    assert web.post(url, json={"corpId": CORP, "code": code, "state": state}).status_code == 200
    # Single use: the same state (and code) again is refused.
    json_error(web.post(url, json={"corpId": CORP, "code": code, "state": state}), 400)


def test_state_is_bound_to_its_corp_and_its_login_element(web: FlaskClient, demo: jitlite.App,
                                                           sandbox: Sandbox) -> None:
    login = demo.getElement(PROXY)
    elsewhere = login.createState("wwsomeothercorp")
    code = sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID)
    url = f"/auth/{PROXY}/login-code"
    assert "another corpId" in json_error(web.post(url, json={"corpId": CORP, "code": code, "state": elsewhere}), 400)
    # A state of another scope (another login element) does not exist for this one.
    from jitlite.meta.login_states import LoginStates

    foreign = LoginStates(demo.getElement("caches.Default"), "auths.SomeOtherLogin").issue(corpId=CORP)
    json_error(web.post(url, json={"corpId": CORP, "code": code, "state": foreign}), 400)


def test_outstanding_states_are_bounded_per_login_element(open_demo: Callable[..., jitlite.App],
                                                          sandbox: Sandbox) -> None:
    app = open_demo({"jitlite.toml": "[settings]\nloginStateLimit = 3\n"})
    authorise(app, sandbox)
    web = create_web_app(app).test_client()
    states = []
    for _ in range(10):  # an unauthenticated caller asking again and again
        url = web.get(f"/auth/{PROXY}/qr-url", query_string={"corpId": CORP, "redirectUri": REDIRECT})
        states.append(url.get_json()["url"].split("state=")[1].split("&")[0])
    cache = app.getElement("caches.Default")
    assert len(cache.keys(f"loginState:{PROXY}:*")) <= 2 * 3 + 1
    code = sandbox.state.issue_corp_code(CORP, "lina", suite_id=DEFAULT_SUITE_ID)
    # The oldest were evicted; the newest three are still good.
    json_error(web.post(f"/auth/{PROXY}/login-code", json={"corpId": CORP, "code": code, "state": states[0]}), 400)
    answer = web.post(f"/auth/{PROXY}/login-code", json={"corpId": CORP, "code": code, "state": states[-3]})
    assert answer.status_code == 200, answer.get_json()


# -- item 11: names that are not active login elements -----------------------------------------------


@pytest.fixture
def built(demo: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the names the web layer asks the App to build."""
    names: list[str] = []
    original = demo.getElement

    def spy(fullName: str) -> Any:
        names.append(fullName)
        return original(fullName)

    monkeypatch.setattr(demo, "getElement", spy)
    return names


@pytest.mark.parametrize("name", [
    "auths.loginTypes.QywxProxyType",  # a Type, not an instance
    "auths.loginTypes.Meta",
    "auths.services.AuthService",  # an instance, but not a login element
    "caches.Default",
    "databases.Default",
    "auths.QywxProxyTem",  # a near miss, whose suggestions must not be listed
    "auths.Nope",
    "not a name!",
    "x" * 300,
])
def test_names_that_are_not_login_elements_are_404_before_anything_is_built(
        web: FlaskClient, built: list[str], name: str) -> None:
    for response in (web.get(f"/auth/{name}/config"),
                     web.get(f"/auth/{name}/qr-url", query_string={"corpId": CORP, "redirectUri": REDIRECT}),
                     web.post(f"/auth/{name}/login-code", json={"corpId": CORP, "code": "c", "state": "s"}),
                     web.post(f"/callbacks/qywx-proxy/{name}", data=b"<xml/>")):
        message = json_error(response, 404)
        assert "QywxProxyTemp" not in response.get_data(as_text=True) and "did you mean" not in message
    assert built == []


def test_an_inactive_login_element_answers_403_without_being_built(
        open_demo: Callable[..., jitlite.App], monkeypatch: pytest.MonkeyPatch) -> None:
    off = {"authConfig": {"suiteId": "tjoff", "suiteSecret": "s", "encodingAESKey": "Q" * 43, "token": "t"},
           "isActive": False}
    app = open_demo({"auths/QywxProxyOff/e.json": {"title": "Off", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/QywxProxyOff/QywxProxyOff.json": off})
    web = create_web_app(app).test_client()
    built: list[str] = []
    original = app.getElement

    def spy(fullName: str) -> Any:
        built.append(fullName)
        return original(fullName)

    monkeypatch.setattr(app, "getElement", spy)
    for response in (web.get("/auth/auths.QywxProxyOff/config"),
                     web.post("/auth/auths.QywxProxyOff/login-code", json={"corpId": CORP, "code": "c", "state": "s"})):
        assert "disabled" in json_error(response, 403)
    assert built == []
    # A login switched off on the built element is refused as well.
    login = original(PROXY)
    login.config = login.config.model_copy(update={"isActive": False})
    assert "disabled" in json_error(web.get(f"/auth/{PROXY}/config"), 403)


def test_a_login_element_without_the_capability_answers_404(web: FlaskClient) -> None:
    # The WeChat login element of the demo has no WeCom QR URL builder.
    response = web.get("/auth/auths.loginTypes.MyWeChatLogin/qr-url",
                       query_string={"corpId": CORP, "redirectUri": REDIRECT})
    json_error(response, 404)


def test_organisation_codes(web: FlaskClient, demo: jitlite.App) -> None:
    demo.getElement(SERVICE).setCode(corpId=CORP, code="org_1")
    assert web.get("/auth/org/org_1").get_json()["corpId"] == CORP
    json_error(web.get("/auth/org/nope"), 404)
    json_error(web.get("/auth/org/" + "x" * 65), 404)
    json_error(web.get("/auth/org/a%00b"), 404)


# -- item 12: malformed bodies, WeCom errcodes, sessions, unexpected errors --------------------------

MALFORMED: list[tuple[str, bytes, str]] = [
    ("array", b'["corpId", "code"]', "application/json"),
    ("string", b'"hello"', "application/json"),
    ("number", b"42", "application/json"),
    ("null", b"null", "application/json"),
    ("deep nesting", b'{"code": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json"),
    ("wrong type", b'{"corpId": 1, "code": ["x"], "state": {"a": 1}, "loginCode": 5}', "application/json"),
    ("invalid UTF-8", b'{"corpId": "\xff\xfe", "code": "c", "state": "s", "loginCode": "c"}', "application/json"),
    ("lone surrogate", b'{"corpId": "\\ud800", "code": "c", "state": "s", "loginCode": "c"}', "application/json"),
    ("control characters", b'{"corpId": "a\\u0000b", "code": "c\\n", "state": "s", "loginCode": "c\\u0000"}',
     "application/json"),
    ("not JSON", b"corpId=x&code=y", "application/json"),
    ("form post", b"corpId=x&code=y&state=z&loginCode=c", "application/x-www-form-urlencoded"),
    ("no content type", b'{"corpId": "x", "code": "y", "state": "z", "loginCode": "c"}', ""),
    ("empty", b"", "application/json"),
    ("too long", b'{"code": "' + b"c" * 600 + b'", "state": "s", "loginCode": "' + b"c" * 600 + b'"}',
     "application/json"),
    ("bad platform", b'{"loginCode": "c", "platform": "desktop", "code": "c", "state": "s", "corpId": "x",'
                     b' "loginType": "sms"}', "application/json"),
]


def test_malformed_bodies_answer_400_json(web: FlaskClient) -> None:
    for path in (f"/auth/{PROXY}/login-code", "/auth/session"):
        for label, body, content_type in MALFORMED:
            headers = {"Content-Type": content_type} if content_type else {}
            response = web.post(path, data=body, headers=headers)
            message = json_error(response, 400)
            assert "<" not in message and "\\xff" not in message, (path, label)


def test_json_bodies_are_capped_at_16_kib(web: FlaskClient) -> None:
    padding = "p" * (16 * 1024)
    response = web.post("/auth/session", json={"loginCode": "c", "padding": padding})
    json_error(response, 413)
    response = web.post("/callbacks/qywx-proxy", data=b"x" * (64 * 1024 + 1),
                        query_string={"nonce": "n", "timestamp": "1", "msg_signature": "s"})
    json_error(response, 413)


def test_an_invalid_or_used_wecom_code_is_the_callers_problem(web: FlaskClient, sandbox: Sandbox) -> None:
    url = f"/auth/{PROXY}/login-code"
    _, state = qr_login(web, sandbox)
    response = web.post(url, json={"corpId": CORP, "code": "bogus-code", "state": state})  # WeCom: 40029
    json_error(response, 401)
    assert response.get_json()["errcode"] == 40029 and response.get_json()["restartLogin"] is True
    for errcode in (40163, 42003):
        code, state = qr_login(web, sandbox)
        sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=errcode, times=1)
        response = web.post(url, json={"corpId": CORP, "code": code, "state": state})
        json_error(response, 401)
        assert response.get_json()["errcode"] == errcode


def test_upstream_failures_are_502_or_503_or_429(web: FlaskClient, sandbox: Sandbox) -> None:
    url = f"/auth/{PROXY}/login-code"
    for errcode, status in ((48002, 502), (-1, 503), (45009, 429)):  # 45009 last: it pauses the corp
        code, state = qr_login(web, sandbox)
        sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=errcode)
        response = web.post(url, json={"corpId": CORP, "code": code, "state": state})
        sandbox.state.clear_faults()
        message = json_error(response, status)
        assert "hint" not in message and "cgi-bin" not in message  # what to fix goes to the log only
        if status == 429:
            assert int(response.headers["Retry-After"]) >= 1


def test_missing_malformed_or_expired_sessions_answer_401(web: FlaskClient, demo: jitlite.App) -> None:
    response = web.get("/auth/session")
    json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    json_error(web.get("/auth/session", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    json_error(web.get("/auth/session", headers={"Authorization": "Bearer " + "t" * 600}), 401)
    json_error(web.get("/auth/session", headers={"Authorization": "Bearer no-such-token"}), 401)
    json_error(web.delete("/auth/session"), 401)
    auth = demo.getElement(AUTH_SERVICE)
    user = auth.createUser(name="过期")
    session = auth.openSession(user.userId, CORP, "web")
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert web.get("/auth/session", headers=headers).status_code == 200
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert auth.sessions.updateByFilter(Q(userId=user.userId), {"expiresAt": past}) == 1
    json_error(web.get("/auth/session", headers=headers), 401)


def test_unexpected_errors_answer_json_500_and_log_the_traceback(
        web: FlaskClient, demo: jitlite.App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(token: str) -> dict[str, Any]:
        raise RuntimeError("database said no")

    monkeypatch.setattr(demo.getElement(AUTH_SERVICE), "getSession", broken)
    with caplog.at_level(logging.ERROR, logger="jitlite.web"):
        response = web.get("/auth/session", headers={"Authorization": "Bearer some-token"})
    message = json_error(response, 500)
    request_id = response.headers["X-Request-Id"]
    assert request_id in message and "database said no" not in response.get_data(as_text=True)
    [record] = [r for r in caplog.records if r.name == "jitlite.web"]
    assert request_id in record.getMessage() and record.exc_info is not None
    assert "database said no" in caplog.text and "RuntimeError" in caplog.text


# -- item 13: a login code with an empty corpList ----------------------------------------------------


def test_login_code_with_empty_corp_list_opens_only_a_corpless_session(web: FlaskClient, demo: jitlite.App) -> None:
    auth = demo.getElement(AUTH_SERVICE)
    user = auth.createUser(name="无企业")
    refused = auth.createLoginCode(user.userId, [])
    for corp in (CORP, "wwanycorp"):
        with pytest.raises(jitlite.LoginCodeInvalid, match="no corp"):
            auth.exchangeLoginCode(refused, corp)
        json_error(web.post("/auth/session", json={"loginCode": refused, "corpId": corp}), 401)
    session = auth.exchangeLoginCode(refused)  # the refusals did not spend it
    assert session["corpId"] is None and session["userId"] == user.userId

    listed = auth.createLoginCode(user.userId, [{"corpId": CORP, "corpName": "沙盒科技"}])
    with pytest.raises(jitlite.LoginCodeInvalid, match="does not give access to corp wwother"):
        auth.exchangeLoginCode(listed, "wwother")
    answer = web.post("/auth/session", json={"loginCode": listed})
    assert answer.status_code == 200 and answer.get_json()["corpId"] == CORP
