"""JitAi's HTTP API: /api/<orgId>/<appName>/<element path>/<function>, the envelope, loginRequired, raw notify."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jitlite
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.web import SESSION_COOKIE, api_prefix, create_web_app

from ..conftest import DEMO_APP
from .conftest import AUTH_SERVICE, CORP, PROXY, SERVICE, authorise, browser_login, qr_login

API = "/api/local/jitliteDemo"
NOTIFY = f"{API}/auths/loginTypes/QywxProxyType/services/QywxProxyAuthService/notify"

ORDERS = {
    "services/Orders/e.json": {
        "title": "Orders", "type": "services.NormalType", "className": "Orders", "backendBundleEntry": ".",
        "functionList": [
            {"name": "find", "args": [{"name": "orderNo", "dataType": "Stext"}]},
            {"name": "ping", "loginRequired": False},
            {"name": "refuse", "loginRequired": False},
            {"name": "crash", "loginRequired": False},
            {"name": "total", "loginRequired": False, "argsToDatatype": True,
             "args": [{"name": "amount", "dataType": "Money"}], "returnType": "Money"},
        ],
    },
    "services/Orders/__init__.py": (
        "from datetime import datetime, timezone\n\n"
        "from jit.errcode import Code\n"
        "from services.NormalType import NormalService\n\n\n"
        "class Orders(NormalService):\n"
        "    def find(self, orderNo):\n"
        "        return {'orderNo': orderNo, 'at': datetime(2024, 1, 2, tzinfo=timezone.utc), 'tags': ('a', 'b')}\n\n"
        "    def ping(self):\n        return 'pong'\n\n"
        "    def refuse(self):\n        raise Code(12345, '订单不存在 no such order')\n\n"
        "    def crash(self):\n        raise RuntimeError('the database password is hunter2')\n\n"
        "    def hidden(self):\n        return 'never over HTTP'\n\n"
        "    def total(self, amount):\n        return amount\n"
    ),
}


def envelope(response: TestResponse, status: int = 200, errcode: int = 0) -> Any:
    """Assert JitAi's envelope with this HTTP status and errcode; return its data (or errmsg when an error)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"errcode", "errmsg", "data", "requestId"}
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert body["errcode"] == errcode, body
    if errcode == 0:
        assert body["errmsg"] == "ok"
        return body["data"]
    assert body["data"] is None and "Traceback" not in body["errmsg"]
    return body["errmsg"]


@pytest.fixture
def orders(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The demo app with a service of the app's own (functionList) and the default corp authorised."""
    app = open_demo(ORDERS)
    authorise(app, sandbox)
    return app


@pytest.fixture
def api(orders: jitlite.App) -> FlaskClient:
    return create_web_app(orders).test_client()


def bearer(app: jitlite.App, user_id: str | None = None, corp: str | None = CORP) -> dict[str, str]:
    auth = app.getElement(AUTH_SERVICE)
    user = auth.getUser(user_id) if user_id else auth.createUser(name="调用者")
    return {"Authorization": f"Bearer {auth.openSession(user.userId, corp, 'web')['token']}"}


def test_org_and_app_come_from_the_app_id() -> None:
    assert api_prefix("acme.crm") == ("acme", "crm")
    assert api_prefix("acme.crm.v2") == ("acme", "crm.v2")
    assert api_prefix("jitliteDemo") == ("local", "jitliteDemo")
    assert api_prefix(".odd") == ("local", ".odd")


def test_a_public_function_answers_the_envelope(api: FlaskClient) -> None:
    data = envelope(api.post(f"{API}/auths/QywxProxyTemp/getLoginConfig", json={}))
    assert data["suiteId"] == DEFAULT_SUITE_ID and "suiteSecret" not in json.dumps(data)
    assert envelope(api.post(f"{API}/services/Orders/ping")) == "pong"  # an empty body is no arguments
    assert envelope(api.post(f"{API}/services/Orders/total", json={"amount": 12.5})) == 12.5  # a data type's value
    response = api.post(f"{API}/services/Orders/ping", headers={"X-Request-Id": "trace-1"})
    assert response.get_json()["requestId"] == "trace-1"


def test_an_app_id_with_an_org_is_served_under_it(open_demo: Callable[..., jitlite.App]) -> None:
    manifest = json.loads((DEMO_APP / "app.json").read_text(encoding="utf-8"))
    app = open_demo({"app.json": {**manifest, "appId": "acme.crm"}})
    web = create_web_app(app).test_client()
    assert envelope(web.post("/api/acme/crm/auths/QywxProxyTemp/getLoginConfig"))["suiteId"] == DEFAULT_SUITE_ID
    envelope(web.post(f"{API}/auths/QywxProxyTemp/getLoginConfig"), 404, 404)


def test_login_required_functions_need_a_session(api: FlaskClient, orders: jitlite.App) -> None:
    assert "log in" in envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "A1"}), 401, 401)
    envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "A1"},
                      headers={"Authorization": "Bearer not-a-session"}), 401, 401)
    envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "A1"},
                      headers={"Authorization": "Basic dTpw"}), 401, 401)
    data = envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "A1"}, headers=bearer(orders)))
    assert data == {"orderNo": "A1", "at": "2024-01-02T00:00:00+00:00", "tags": ["a", "b"]}


def test_the_session_cookie_works_with_json_only(api: FlaskClient, orders: jitlite.App, sandbox: Sandbox) -> None:
    browser_login(api, sandbox)
    assert api.get_cookie(SESSION_COOKIE) is not None
    assert envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "B2"}))["orderNo"] == "B2"
    # A cross-site form cannot send JSON: a cookie call without it is refused.
    envelope(api.post(f"{API}/services/Orders/find", data={"orderNo": "B2"}), 403, 403)
    envelope(api.post(f"{API}/services/Orders/find", data="", headers={"Content-Type": "text/plain"}), 403, 403)


def test_an_element_error_is_its_code_without_a_traceback(api: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    assert envelope(api.post(f"{API}/services/Orders/refuse"), 200, 12345) == "订单不存在 no such order"
    response = api.post(f"{API}/services/Orders/crash")
    message = envelope(response, 500, 500)
    assert response.headers["X-Request-Id"] in message and "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" in caplog.text  # the traceback is in the server's log


def test_wecom_errors_answer_their_errcode(api: FlaskClient, sandbox: Sandbox) -> None:
    code, state = qr_login(api, sandbox)
    sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=40029, times=1)
    response = api.post(f"{API}/auths/QywxProxyTemp/getLoginCode",
                        json={"corpId": CORP, "code": code, "state": state, "loginType": "qr"})
    envelope(response, 401, 40029)
    assert response.get_json()["restartLogin"] is True


@pytest.mark.parametrize("path", [
    "auths/QywxProxyTemp/getAccessToken",                      # not a documented function of the Type
    "auths/QywxProxyTemp/buildQrLoginUrl",                     # a method, but not on the allow-list
    "auths/QywxProxyTemp/_instance",                           # underscore names never
    "auths/QywxProxyTemp/__class__",
    "auths/QywxProxyTemp/suiteId",                             # an attribute
    "auths/loginTypes/QywxInnerExample/getAccessToken",        # the app's token stays on the server
    "auths/services/AuthService/createUser",
    "auths/services/AuthService/openSession",
    "auths/loginTypes/QywxProxyType/getLoginConfig",           # a Type, not an instance
    "auths/loginTypes/Meta/getLoginConfig",
    "services/Orders/hidden",                                  # not in functionList
    "services/Orderz/ping",                                    # no such element: no suggestions
    "auths/QywxProxyTemp",                                     # no function
    "auths/Qywx-ProxyTemp/getLoginConfig",
    "auths/QywxProxyTemp/get.LoginConfig",
])
def test_only_listed_functions_of_elements_are_callable(api: FlaskClient, path: str) -> None:
    response = api.post(f"{API}/{path}", json={})
    envelope(response, 404, 404)
    assert "did you mean" not in response.get_data(as_text=True) and "Orders'" not in response.get_data(as_text=True)


def test_wrong_app_method_body_or_arguments(api: FlaskClient, orders: jitlite.App) -> None:
    envelope(api.post("/api/local/otherApp/services/Orders/ping"), 404, 404)
    envelope(api.post("/api/acme/jitliteDemo/services/Orders/ping"), 404, 404)
    response = api.get(f"{API}/services/Orders/ping")
    envelope(response, 405, 405)
    assert "POST" in response.headers["Allow"]
    headers = bearer(orders)
    for body in (b"[1, 2]", b'"x"', b"{bad json", b"\xff\xfe", b"[" * 5000 + b"]" * 5000):
        envelope(api.post(f"{API}/services/Orders/find", data=body, headers={**headers,
                                                                              "Content-Type": "application/json"}),
                 400, 400)
    assert "invalid arguments" in envelope(
        api.post(f"{API}/services/Orders/find", json={"orderNo": "A", "extra": 1}, headers=headers), 400, 400)
    assert "invalid arguments" in envelope(api.post(f"{API}/services/Orders/find", json={}, headers=headers), 400, 400)
    envelope(api.post(f"{API}/services/Orders/find", json={"orderNo": "x" * 20000}, headers=headers), 413, 413)


def test_get_login_code_over_http_needs_the_state(api: FlaskClient, sandbox: Sandbox) -> None:
    code, state = qr_login(api, sandbox)
    url = f"{API}/auths/QywxProxyTemp/getLoginCode"
    assert "state" in envelope(api.post(url, json={"corpId": CORP, "code": code, "loginType": "qr"}), 400, 400)
    result = envelope(api.post(url, json={"corpId": CORP, "code": code, "state": state, "loginType": "qr"}))
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]
    session = envelope(api.post(f"{API}/auths/services/AuthService/exchangeLoginCode",
                                json={"loginCode": result["loginCode"], "corpId": CORP, "platform": "web"}))
    assert session["userId"] == result["userId"] and session["token"]
    assert envelope(api.post(f"{API}/auths/services/AuthService/getSession", json={"token": session["token"]}))[
        "corpId"] == CORP


def test_admin_functions_are_refused_to_others(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    app = open_demo({"jitlite.toml": f'[settings]\nadmins = ["{CORP}:zhangwei"]\n'})
    authorise(app, sandbox)
    web = create_web_app(app).test_client()
    url = f"{API}/auths/loginTypes/QywxProxyType/services/QywxProxyAuthService/setCode"
    envelope(web.post(url, json={"corpId": CORP, "code": "org-7"}), 401, 401)
    browser_login(web, sandbox, userid="wangfang")
    assert "admins" in envelope(web.post(url, json={"corpId": CORP, "code": "org-7"}), 403, 403)
    boss = create_web_app(app).test_client()
    browser_login(boss, sandbox, userid="zhangwei")
    assert envelope(boss.post(url, json={"corpId": CORP, "code": "org-7"})) is None
    assert envelope(web.post(f"{API}/auths/loginTypes/QywxProxyType/services/QywxProxyAuthService/"
                             "getLoginConfigByCode", json={"code": "org-7"}))["corpId"] == CORP


def test_self_and_corp_access(api: FlaskClient, orders: jitlite.App) -> None:
    mine, theirs = bearer(orders), bearer(orders)
    theirs_id = orders.getElement(AUTH_SERVICE).getSession(theirs["Authorization"][7:])["userId"]
    unbind = f"{API}/auths/loginTypes/MyWeChatLogin/unbind"
    assert "your own user" in envelope(api.post(unbind, json={"userId": theirs_id}, headers=mine), 403, 403)
    # Their own user (filled in when left out): the function runs, and says there is nothing to unbind.
    assert "no wechat account" in envelope(api.post(unbind, json={}, headers=theirs), 403, 403).lower()
    get_user = f"{API}/auths/loginTypes/QywxInnerExample/getUserInfo"
    elsewhere = bearer(orders, corp="wwothercorp")
    assert "corp" in envelope(api.post(get_user, json={"userId": "lina"}, headers=elsewhere), 403, 403)
    assert envelope(api.post(get_user, json={"userId": "lina"}, headers=mine))["name"] == "李娜"


def signed(app: jitlite.App, **extra: str) -> dict[str, str]:
    login = app.getElement(PROXY)
    timestamp, nonce = str(int(time.time())), f"n{time.monotonic_ns()}"
    echostr = login.crypto.encrypt("echo-4242", DEFAULT_SUITE_ID)
    return {"timestamp": timestamp, "nonce": nonce, "echostr": echostr,
            "msg_signature": login.crypto.signature(timestamp, nonce, echostr), **extra}


def test_notify_is_answered_raw_for_get_and_post(api: FlaskClient, orders: jitlite.App, sandbox: Sandbox) -> None:
    verified = api.get(NOTIFY, query_string=signed(orders))
    assert (verified.status_code, verified.mimetype, verified.get_data(as_text=True)) == (200, "text/plain",
                                                                                           "echo-4242")
    forged = api.get(NOTIFY, query_string=signed(orders, msg_signature="0" * 40))
    assert (forged.status_code, forged.get_data(as_text=True)) == (403, "invalid callback")  # no detail
    missing = api.post(NOTIFY, data=b"<xml/>")
    assert missing.status_code == 400 and missing.mimetype == "text/plain"
    # WeCom configured with the JitAi URL: the sandbox's pushes go there and are answered "success".
    sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=f"http://jitlite-app.test{NOTIFY}")
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    assert orders.getElement(SERVICE).waitIdle(10)
    last = sandbox.state.push_log()[-1]
    assert (last.url, last.status, last.answer) == (f"http://jitlite-app.test{NOTIFY}", 200, "success")
    too_big = api.post(NOTIFY, data=b"x" * (64 * 1024 + 1), query_string={"nonce": "n", "timestamp": "1",
                                                                            "msg_signature": "s"})
    assert too_big.status_code == 413
