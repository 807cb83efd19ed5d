"""The shared login flow across Types: QywxProxyType's ServiceApp login, one user for one member, the web route."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

import jitlite
from jitlite.meta.auths import NotACorpMember
from jitlite.runtime.errors import AuthError
from jitlite.sandbox.defaults import DEFAULT_AGENT_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.web import create_web_app

from .conftest import (
    AUTH_SERVICE,
    CORP,
    INNER,
    PROXY,
    REDIRECT,
    SUITE,
    WECHAT,
    WX_APP,
    authorise_proxy,
    scan,
)


def test_service_app_login_through_the_suite(demo: jitlite.App, sandbox: Sandbox) -> None:
    proxy = authorise_proxy(demo, sandbox)
    url = proxy.buildServiceLoginUrl(REDIRECT)
    assert "login_type=ServiceApp" in url and f"appid={SUITE}" in url and "agentid" not in url
    back = scan(sandbox, url, corpid=CORP, userid="lina")
    sandbox.state.clear_request_log()
    result = proxy.getLoginCode(code=back["code"], loginType="ServiceApp", state=back["state"])
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]
    assert [r.path for r in sandbox.state.request_log("/cgi-bin/service/auth/getuserinfo3rd")]
    session = demo.getElement(AUTH_SERVICE).exchangeLoginCode(result["loginCode"], CORP, "web")
    assert session["userId"] == result["userId"]
    # The same member through the corp's QR login is the same system user.
    qr = scan(sandbox, proxy.buildQrLoginUrl(CORP, REDIRECT), userid="lina")
    assert proxy.getLoginCode(CORP, qr["code"], "qr", qr["state"])["userId"] == result["userId"]


def test_service_app_refusals(demo: jitlite.App, sandbox: Sandbox) -> None:
    proxy = authorise_proxy(demo, sandbox)
    guest = scan(sandbox, proxy.buildServiceLoginUrl(REDIRECT), guest="outsider")
    with pytest.raises(NotACorpMember, match=f"not a member of a corp that authorised suite {SUITE}"):
        proxy.getLoginCode(code=guest["code"], loginType="ServiceApp", state=guest["state"])
    member = scan(sandbox, proxy.buildServiceLoginUrl(REDIRECT), corpid=CORP, userid="lina")
    # Refused before the code is spent: QywxProxyTemp serves its configured corp only.
    with pytest.raises(AuthError, match=f"corp {CORP}.*not wwothercorp"):
        proxy.getLoginCode(corpId="wwothercorp", code=member["code"], loginType="ServiceApp")
    with pytest.raises(ValueError, match="corpId and code are both required"):
        proxy.getLoginCode(code="some-code", loginType="qr")
    # A non-member scanning the corp's QR login is refused as well.
    qr_guest = scan(sandbox, proxy.buildQrLoginUrl(CORP, REDIRECT), guest="visitor")
    with pytest.raises(NotACorpMember, match=f"not a member of corp {CORP}"):
        proxy.getLoginCode(CORP, qr_guest["code"], "qr", qr_guest["state"])
    assert demo.getElement(AUTH_SERVICE).users.query()["totalCount"] == 0


def test_a_wecom_member_who_binds_wechat_logs_in_as_one_user(demo: jitlite.App, sandbox: Sandbox) -> None:
    authorise_proxy(demo, sandbox)
    inner, wechat, proxy = demo.getElement(INNER), demo.getElement(WECHAT), demo.getElement(PROXY)
    member = inner.getLoginCode(authCode=sandbox.state.issue_corp_code(CORP, "wangfang", agent_id=DEFAULT_AGENT_ID))
    user_id = member["sysUserId"]
    wechat.bind(user_id, sandbox.state.issue_wechat_code(WX_APP, "wx-alice"))

    result = wechat.getLoginCode(sandbox.state.issue_wechat_code(WX_APP, "wx-alice"))
    assert result["userId"] == user_id
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]  # the member's corp, via WeChat
    session = demo.getElement(AUTH_SERVICE).exchangeLoginCode(result["loginCode"], CORP, "web")
    assert (session["userId"], session["corpId"]) == (user_id, CORP)
    # The same member through the proxy-development app of that corp: still the one user.
    proxy_code = sandbox.state.issue_corp_code(CORP, "wangfang", suite_id=SUITE)
    assert proxy.getLoginCode(corpId=CORP, code=proxy_code)["userId"] == user_id
    auth = demo.getElement(AUTH_SERVICE)
    assert auth.users.query()["totalCount"] == 1
    assert sorted(i["provider"] for i in auth.identitiesOf(user_id)) == ["wechat", "wecom"]


@pytest.fixture
def web(demo: jitlite.App) -> FlaskClient:
    return create_web_app(demo).test_client()


def test_the_login_code_route_serves_every_type(web: FlaskClient, demo: jitlite.App, sandbox: Sandbox) -> None:
    inner = demo.getElement(INNER)
    config = web.get(f"/auth/{INNER}/config").get_json()
    assert set(config) == {"corpId", "agentId", "redirectUri", "state", "loginUrl"}
    back = scan(sandbox, config["loginUrl"], userid="lina")
    answer = web.post(f"/auth/{INNER}/login-code", json={"code": back["code"], "state": back["state"]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["userId"] == "lina" and answer.get_json()["loginCode"]
    assert inner.authModel.get("Q(userId='lina')") is not None

    wx = scan(sandbox, demo.getElement(WECHAT).buildQrConnectUrl(REDIRECT).removesuffix("#wechat_redirect"),
              user="wx-bob")
    answer = web.post(f"/auth/{WECHAT}/login-code", json={"code": wx["code"], "state": wx["state"]})
    assert answer.status_code == 200, answer.get_json()
    assert set(answer.get_json()) == {"loginCode", "corpList", "userId"}
    opened = web.post("/auth/session", json={"loginCode": answer.get_json()["loginCode"], "platform": "web"})
    assert opened.status_code == 200 and opened.get_json()["userId"] == answer.get_json()["userId"]
    # A spent WeChat code is the caller's to restart; a forged state is refused before any call.
    again = web.post(f"/auth/{WECHAT}/login-code", json={"code": wx["code"], "state": "f" * 48})
    assert again.status_code == 400
    assert web.get(f"/auth/{WECHAT}/config").get_json()["authType"] == "WeChatType"


def test_service_app_over_http_needs_no_corp(web: FlaskClient, demo: jitlite.App, sandbox: Sandbox) -> None:
    proxy = authorise_proxy(demo, sandbox)
    back = scan(sandbox, proxy.buildServiceLoginUrl(REDIRECT), corpid=CORP, userid="huangmin")
    answer = web.post(f"/auth/{PROXY}/login-code", json={"code": back["code"], "state": back["state"],
                                                         "loginType": "ServiceApp"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]
