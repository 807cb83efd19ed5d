"""Login pages: scanning redirects with a fresh code and the same state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jitlite.sandbox.defaults import (
    DEFAULT_AGENT_ID,
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_PROVIDER_CORP_ID,
    DEFAULT_SUITE_ID,
    DEFAULT_WECHAT_APPID,
)
from jitlite.sandbox.testing import Sandbox

ApiT = Any

CORP_LOGIN = {"login_type": "CorpApp", "appid": DEFAULT_CORP_ID, "agentid": str(DEFAULT_AGENT_ID),
              "redirect_uri": "https://app.test/login/callback?next=%2Fhome", "state": "xyz123"}


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """Return a client that does not follow redirects, so the tests can read them."""
    with sandbox.client(follow_redirects=False) as http:
        yield http


def _redirected(response: httpx.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_corp_app_login_page_lists_members_and_redirects(client: httpx.Client, api: ApiT) -> None:
    page = client.get("/wwlogin/sso/login", params=CORP_LOGIN)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "李娜" in page.text and 'value="lina"' in page.text
    target, query = _redirected(client.post("/wwlogin/sso/login", params=CORP_LOGIN, data={"userid": "lina"}))
    assert target == "https://app.test/login/callback"
    assert query["state"] == "xyz123" and query["next"] == "/home" and "appid" not in query
    token = api.corp_token()
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=query["code"])["userid"] == "lina"
    _, second = _redirected(client.post("/wwlogin/sso/login", params=CORP_LOGIN, data={"userid": "lina"}))
    assert second["code"] != query["code"]


def test_customized_app_agent_can_log_in_with_corp_app(client: httpx.Client, api: ApiT) -> None:
    api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, allow_party=[3])
    agent_id = api.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).agent_id
    params = {**CORP_LOGIN, "agentid": str(agent_id)}
    page = client.get("/wwlogin/sso/login", params=params)
    assert "黄敏" in page.text and "李娜" not in page.text  # only the authorised scope
    refused = client.post("/wwlogin/sso/login", params=params, data={"userid": "lina"})
    assert refused.status_code == 400
    _, query = _redirected(client.post("/wwlogin/sso/login", params=params, data={"userid": "huangmin"}))
    auth = api.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    token = api.corp_token(DEFAULT_CORP_ID, auth.permanent_code)
    assert api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=query["code"])["userid"] == "huangmin"


def test_service_app_login_adds_appid(client: httpx.Client, api: ApiT) -> None:
    api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
    params = {"login_type": "ServiceApp", "appid": DEFAULT_SUITE_ID,
              "redirect_uri": "http://provider.test/cb", "state": "s"}
    page = client.get("/wwlogin/sso/login", params=params)
    assert DEFAULT_CORP_ID in page.text and 'name="corpid"' in page.text
    _, query = _redirected(client.post("/wwlogin/sso/login", params=params,
                                       data={"corpid": DEFAULT_CORP_ID, "userid": "zhangwei"}))
    assert query["appid"] == DEFAULT_SUITE_ID and query["state"] == "s"
    info = api.get("/cgi-bin/service/auth/getuserinfo3rd", suite_access_token=api.suite_token(),
                   code=query["code"])
    assert (info["corpid"], info["userid"]) == (DEFAULT_CORP_ID, "zhangwei")


@pytest.mark.parametrize("changes", [
    {"redirect_uri": "javascript:alert(1)"},
    {"redirect_uri": "ftp://app.test/cb"},
    {"redirect_uri": "https:///no-host"},
    {"redirect_uri": None},
    {"appid": "wwnosuchcorp"},
    {"agentid": "999"},
    {"agentid": None},
    {"login_type": "Other"},
])
def test_login_page_rejects_bad_requests(client: httpx.Client, changes: dict[str, Any]) -> None:
    params = {k: v for k, v in {**CORP_LOGIN, **changes}.items() if v is not None}
    assert client.get("/wwlogin/sso/login", params=params).status_code == 400


def test_pages_escape_what_they_show(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.state.add_member(DEFAULT_CORP_ID, {"userid": "evil", "name": "<script>alert(1)</script>",
                                               "department": [1]})
    page = client.get("/wwlogin/sso/login", params=CORP_LOGIN)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    bad = client.get("/wwlogin/sso/login", params={**CORP_LOGIN, "redirect_uri": "<b>x</b>"})
    assert "<b>x</b>" not in bad.text


def test_wechat_qrconnect(client: httpx.Client, api: ApiT) -> None:
    params = {"appid": DEFAULT_WECHAT_APPID, "redirect_uri": "https://web.test/wx", "response_type": "code",
              "scope": "snsapi_login", "state": "abc"}
    page = client.get("/connect/qrconnect", params=params)
    assert page.status_code == 200 and "爱丽丝" in page.text
    target, query = _redirected(client.post("/connect/qrconnect", params=params, data={"user": "wx-carol"}))
    assert target == "https://web.test/wx" and query["state"] == "abc"
    answer = api.get("/sns/oauth2/access_token", appid=DEFAULT_WECHAT_APPID, secret="sandbox-wechat-secret",
                     code=query["code"], grant_type="authorization_code")
    assert answer["openid"] == api.state.openid(DEFAULT_WECHAT_APPID, "wx-carol")
    for bad in ({"scope": "snsapi_base"}, {"response_type": "token"}, {"appid": "wxnope"},
                {"redirect_uri": "data:text/html,hi"}):
        assert client.get("/connect/qrconnect", params={**params, **bad}).status_code == 400
    assert client.post("/connect/qrconnect", params=params, data={"user": "nobody"}).status_code == 400


def test_workbench_for_a_self_built_app(client: httpx.Client, api: ApiT) -> None:
    response = client.get("/sandbox/workbench", params={"corp": DEFAULT_CORP_ID, "user": "liuyang",
                                                       "agent": DEFAULT_AGENT_ID,
                                                       "redirect_uri": "https://app.test/wb", "state": "w"})
    target, query = _redirected(response)
    assert target == "https://app.test/wb" and query["state"] == "w"
    info = api.get("/cgi-bin/auth/getuserinfo", access_token=api.corp_token(), code=query["code"])
    assert info["userid"] == "liuyang" and "user_ticket" in info


def test_workbench_for_a_customized_suite_uses_home_url(sandbox: Sandbox, client: httpx.Client,
                                                        api: ApiT) -> None:
    sandbox.state.update_suite(DEFAULT_SUITE_ID, home_url="https://app.test/home")
    api.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID, allow_party=[2])
    target, query = _redirected(client.get("/sandbox/workbench", params={
        "corp": DEFAULT_CORP_ID, "user": "lina", "suite": DEFAULT_SUITE_ID, "scope": "snsapi_base"}))
    assert target == "https://app.test/home" and "state" not in query
    token = api.corp_token(DEFAULT_CORP_ID, api.state.authorization(DEFAULT_SUITE_ID, DEFAULT_CORP_ID).permanent_code)
    info = api.get("/cgi-bin/auth/getuserinfo", access_token=token, code=query["code"])
    assert info == {"errcode": 0, "errmsg": "ok", "userid": "lina"}
    outside = client.get("/sandbox/workbench", params={"corp": DEFAULT_CORP_ID, "user": "huangmin",
                                                      "suite": DEFAULT_SUITE_ID})
    assert outside.status_code == 403


def test_workbench_for_a_third_party_suite(sandbox: Sandbox, client: httpx.Client, api: ApiT) -> None:
    sandbox.state.register_suite("wwthirdpartysuite01", "tp", "tptoken", DEFAULT_ENCODING_AES_KEY,
                                 kind="third_party", provider_corp_id=DEFAULT_PROVIDER_CORP_ID)
    api.state.authorize("wwthirdpartysuite01", DEFAULT_CORP_ID)
    _, query = _redirected(client.get("/sandbox/workbench", params={
        "corp": DEFAULT_CORP_ID, "user": "wuxia", "suite": "wwthirdpartysuite01",
        "redirect_uri": "https://tp.test/"}))
    info = api.get("/cgi-bin/service/auth/getuserinfo3rd",
                   suite_access_token=api.suite_token("wwthirdpartysuite01", "tp"), code=query["code"])
    assert info["userid"] == "wuxia" and info["user_ticket"]


def test_workbench_errors(client: httpx.Client) -> None:
    base = {"corp": DEFAULT_CORP_ID, "user": "lina", "redirect_uri": "https://app.test/"}
    assert client.get("/sandbox/workbench", params=base).status_code == 400  # neither suite nor agent
    assert client.get("/sandbox/workbench", params={**base, "agent": "1", "suite": "x"}).status_code == 400
    assert client.get("/sandbox/workbench", params={**base, "agent": "424242"}).status_code == 400
    assert client.get("/sandbox/workbench", params={**base, "agent": DEFAULT_AGENT_ID,
                                                    "user": "ghost"}).status_code == 403
    no_home = {k: v for k, v in base.items() if k != "redirect_uri"}
    assert client.get("/sandbox/workbench", params={**no_home, "agent": DEFAULT_AGENT_ID}).status_code == 400


def test_install_page_authorises_through_a_pre_auth_code(client: httpx.Client, api: ApiT) -> None:
    suite_token = api.suite_token()
    pre = api.get("/cgi-bin/service/get_pre_auth_code", suite_access_token=suite_token)["pre_auth_code"]
    params = {"suite_id": DEFAULT_SUITE_ID, "pre_auth_code": pre, "redirect_uri": "https://p.test/installed",
              "state": "i1"}
    page = client.get("/3rdapp/install", params=params)
    assert page.status_code == 200 and DEFAULT_CORP_ID in page.text
    _, query = _redirected(client.post("/3rdapp/install", params=params, data={"corpid": DEFAULT_CORP_ID}))
    assert query["state"] == "i1" and query["expires_in"] == "600"
    assert api.permanent_code(query["auth_code"], suite_token)
    assert api.state.push_log() == []  # WeCom sends no create_auth for this flow
    assert client.get("/3rdapp/install", params=params).status_code == 400  # the pre_auth_code is spent
