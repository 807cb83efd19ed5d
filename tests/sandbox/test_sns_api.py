"""The WeChat Open Platform website-login API under /sns/."""

from __future__ import annotations

from typing import Any

import pytest

from jitlite.sandbox.defaults import DEFAULT_OPEN_ACCOUNT, DEFAULT_WECHAT_APPID, DEFAULT_WECHAT_SECRET
from jitlite.sandbox.testing import Sandbox

ApiT = Any


def _exchange(api: ApiT, code: str, appid: str = DEFAULT_WECHAT_APPID,
              secret: str = DEFAULT_WECHAT_SECRET) -> dict[str, Any]:
    return api.get("/sns/oauth2/access_token", appid=appid, secret=secret, code=code,
                   grant_type="authorization_code")


def test_code_exchange_gives_token_openid_and_unionid(api: ApiT) -> None:
    answer = _exchange(api, api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice"))
    assert "errcode" not in answer  # WeChat answers success without an errcode
    assert answer["expires_in"] == 7200 and answer["scope"] == "snsapi_login"
    assert answer["openid"].startswith("o") and answer["unionid"].startswith("o")
    assert answer["openid"] == api.state.openid(DEFAULT_WECHAT_APPID, "wx-alice")
    assert answer["unionid"] == api.state.unionid(DEFAULT_OPEN_ACCOUNT, "wx-alice")
    info = api.get("/sns/userinfo", access_token=answer["access_token"], openid=answer["openid"])
    assert info["nickname"] == "爱丽丝" and info["sex"] == 2 and info["unionid"] == answer["unionid"]
    assert info["privilege"] == [] and info["headimgurl"]
    assert api.get("/sns/auth", access_token=answer["access_token"], openid=answer["openid"]) == {
        "errcode": 0, "errmsg": "ok"}


def test_openid_differs_per_app_and_unionid_per_open_account(sandbox: Sandbox, api: ApiT) -> None:
    state = sandbox.state
    state.register_wechat_app("wxsameaccount0002", "s2", open_account=DEFAULT_OPEN_ACCOUNT)
    state.register_wechat_app("wxotheraccount003", "s3", open_account="another-account")
    state.register_wechat_app("wxnoaccount000004", "s4")
    first = _exchange(api, state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-bob"))
    same = _exchange(api, state.issue_wechat_code("wxsameaccount0002", "wx-bob"), "wxsameaccount0002", "s2")
    other = _exchange(api, state.issue_wechat_code("wxotheraccount003", "wx-bob"), "wxotheraccount003", "s3")
    alone = _exchange(api, state.issue_wechat_code("wxnoaccount000004", "wx-bob"), "wxnoaccount000004", "s4")
    assert len({first["openid"], same["openid"], other["openid"], alone["openid"]}) == 4
    assert first["unionid"] == same["unionid"]
    assert other["unionid"] != first["unionid"]
    assert "unionid" not in alone
    carol = _exchange(api, state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-carol"))
    assert carol["unionid"] != first["unionid"]


def test_codes_are_single_use_and_expire(api: ApiT) -> None:
    code = api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice")
    assert "access_token" in _exchange(api, code)
    assert _exchange(api, code)["errcode"] == 40163
    assert _exchange(api, "made-up")["errcode"] == 40029
    late = api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice")
    api.state.advance(300)
    assert _exchange(api, late)["errcode"] == 40029


@pytest.mark.parametrize(("params", "errcode"), [
    ({"appid": None}, 41002),
    ({"appid": "wxunknown"}, 40013),
    ({"secret": None}, 41004),
    ({"secret": "wrong"}, 40125),
    ({"code": None}, 41008),
    ({"grant_type": "client_credential"}, 40002),
])
def test_access_token_errors(api: ApiT, params: dict[str, Any], errcode: int) -> None:
    query = {"appid": DEFAULT_WECHAT_APPID, "secret": DEFAULT_WECHAT_SECRET,
             "code": api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice"),
             "grant_type": "authorization_code", **params}
    answer = api.get("/sns/oauth2/access_token", **{k: v for k, v in query.items() if v is not None})
    assert answer["errcode"] == errcode and answer["errmsg"]


def test_code_of_another_app_is_invalid(sandbox: Sandbox, api: ApiT) -> None:
    sandbox.state.register_wechat_app("wxsecondapp000005", "s5")
    code = sandbox.state.issue_wechat_code("wxsecondapp000005", "wx-alice")
    assert _exchange(api, code)["errcode"] == 40029


def test_refresh_token(api: ApiT) -> None:
    first = _exchange(api, api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice"))
    api.state.advance(7200)
    assert api.get("/sns/userinfo", access_token=first["access_token"],
                   openid=first["openid"])["errcode"] == 42001
    refreshed = api.get("/sns/oauth2/refresh_token", appid=DEFAULT_WECHAT_APPID, grant_type="refresh_token",
                        refresh_token=first["refresh_token"])
    assert refreshed["refresh_token"] == first["refresh_token"]
    assert refreshed["access_token"] != first["access_token"] and refreshed["openid"] == first["openid"]
    assert api.get("/sns/auth", access_token=refreshed["access_token"], openid=first["openid"])["errcode"] == 0
    assert api.get("/sns/oauth2/refresh_token", appid=DEFAULT_WECHAT_APPID, grant_type="refresh_token",
                   refresh_token="nope")["errcode"] == 40030
    assert api.get("/sns/oauth2/refresh_token", appid=DEFAULT_WECHAT_APPID,
                   grant_type="refresh_token")["errcode"] == 41003
    api.state.advance(30 * 86400)
    assert api.get("/sns/oauth2/refresh_token", appid=DEFAULT_WECHAT_APPID, grant_type="refresh_token",
                   refresh_token=first["refresh_token"])["errcode"] == 42002


def test_userinfo_and_auth_errors(api: ApiT) -> None:
    token = _exchange(api, api.state.issue_wechat_code(DEFAULT_WECHAT_APPID, "wx-alice"))["access_token"]
    bob = api.state.openid(DEFAULT_WECHAT_APPID, "wx-bob")
    assert api.get("/sns/userinfo", access_token=token, openid=bob)["errcode"] == 40003
    assert api.get("/sns/auth", access_token=token, openid=bob)["errcode"] == 40003
    assert api.get("/sns/userinfo", access_token=token)["errcode"] == 41009
    assert api.get("/sns/userinfo", openid=bob)["errcode"] == 41001
    assert api.get("/sns/userinfo", access_token="forged", openid=bob)["errcode"] == 40001
