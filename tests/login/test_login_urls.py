"""The login URL builders of jitlite.wecom.login_urls: pure functions, every value checked."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from jitlite.wecom.login_urls import wechat_qrconnect_url, wecom_oauth_url, wecom_web_login_url

LOGIN_HOST = "https://login.work.weixin.qq.com"
OPEN_HOST = "https://open.weixin.qq.com"
BACK = "https://app.example/cb?next=/home"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_corp_app_web_login() -> None:
    url = wecom_web_login_url(LOGIN_HOST + "/", appid="wwcorp", agentid=1000002, redirect_uri=BACK, state="abc123")
    assert url.startswith("https://login.work.weixin.qq.com/wwlogin/sso/login?")
    assert query(url) == {"login_type": "CorpApp", "appid": "wwcorp", "agentid": "1000002", "redirect_uri": BACK,
                          "state": "abc123"}


def test_service_app_web_login_needs_no_agent() -> None:
    url = wecom_web_login_url(LOGIN_HOST, login_type="ServiceApp", appid="tjsuite", redirect_uri=BACK, state="s1",
                              lang="en")
    assert query(url) == {"login_type": "ServiceApp", "appid": "tjsuite", "redirect_uri": BACK, "state": "s1",
                          "lang": "en"}


def test_wechat_qrconnect() -> None:
    url = wechat_qrconnect_url(OPEN_HOST, appid="wxapp", redirect_uri=BACK, state="s2")
    assert url.startswith("https://open.weixin.qq.com/connect/qrconnect?") and url.endswith("#wechat_redirect")
    assert query(url.removesuffix("#wechat_redirect")) == {
        "appid": "wxapp", "redirect_uri": BACK, "response_type": "code", "scope": "snsapi_login", "state": "s2"}


def test_wecom_oauth_in_the_client() -> None:
    url = wecom_oauth_url(OPEN_HOST, appid="wwcorp", redirect_uri=BACK, state="s3", agentid="1000002")
    assert url.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?") and url.endswith("#wechat_redirect")
    assert query(url.removesuffix("#wechat_redirect"))["scope"] == "snsapi_base"
    private = wecom_oauth_url(OPEN_HOST, appid="wwcorp", redirect_uri=BACK, state="s3", scope="snsapi_privateinfo",
                              agentid=7)
    assert query(private.removesuffix("#wechat_redirect"))["agentid"] == "7"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"login_type": "CorpApp", "agentid": None}, "agentid is required for login_type=CorpApp"),
    ({"agentid": "12a"}, "agentid must be the app's numeric AgentId"),
    ({"login_type": "QrApp"}, "login_type must be CorpApp or ServiceApp"),
    ({"appid": "ww corp"}, "appid"),
    ({"redirect_uri": "javascript:alert(1)"}, "redirect_uri must be an absolute http(s) URL"),
    ({"redirect_uri": "https://app.example/cb#frag"}, "without a #fragment"),
    ({"redirect_uri": "https://a.example/" + "x" * 3000}, "at most 2048 characters"),
    ({"state": "has space"}, "state must be 1 to 128 letters or digits"),
    ({"state": "a" * 129}, "state must be 1 to 128 letters or digits"),
    ({"state": ""}, "state must be 1 to 128 letters or digits"),
    ({"lang": "fr"}, "lang must be zh or en"),
])
def test_web_login_refuses_bad_values(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"appid": "wwcorp", "agentid": 1, "redirect_uri": BACK, "state": "ok"}
    values.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        wecom_web_login_url(LOGIN_HOST, **values)  # type: ignore[arg-type]


def test_hosts_and_scopes_are_checked() -> None:
    with pytest.raises(ValueError, match="login host must be an http"):
        wechat_qrconnect_url("open.weixin.qq.com", appid="wx", redirect_uri=BACK, state="s")
    with pytest.raises(ValueError, match="scope must be snsapi_base or snsapi_privateinfo"):
        wecom_oauth_url(OPEN_HOST, appid="ww", redirect_uri=BACK, state="s", scope="snsapi_login")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agentid is required"):
        wecom_oauth_url(OPEN_HOST, appid="ww", redirect_uri=BACK, state="s", scope="snsapi_privateinfo")
    with pytest.raises(ValueError, match="lang must be cn or en"):
        wechat_qrconnect_url(OPEN_HOST, appid="wx", redirect_uri=BACK, state="s", lang="de")  # type: ignore[arg-type]
