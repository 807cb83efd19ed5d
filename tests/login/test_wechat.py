"""auths.loginTypes.WeChatType end to end on the sandbox: QR login, bind, unbind, the secret, the errors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

import jitlite
from jitlite import ElementBuildError, LoginInactive, LoginStateInvalid
from jitlite.cli import main
from jitlite.meta.auths import IdentityConflict, IdentityNotBound, RegistrationClosed, UnknownUser
from jitlite.runtime.errcode import Code
from jitlite.sandbox.defaults import DEFAULT_OPEN_ACCOUNT
from jitlite.sandbox.testing import Sandbox
from jitlite.wecom import ConfigurationError, LoginRestartRequired

from .conftest import AUTH_SERVICE, REDIRECT, WECHAT, WX_APP, scan

MODEL = "auths.loginTypes.WeChatType.WeChatAuthModel"


def wx_code(sandbox: Sandbox, user: str, appid: str = WX_APP) -> str:
    """Return a code as WeChat's QR login gives it."""
    return sandbox.state.issue_wechat_code(appid, user)


def test_config_is_the_seeds(demo: jitlite.App) -> None:
    wechat_auth = demo.getElement(WECHAT)
    assert wechat_auth.getLoginConfig() == {"isActive": True, "authType": "WeChatType",
                                            "authConfig": {"appId": WX_APP}}
    assert wechat_auth.authType == "WeChatType" and wechat_auth.isActive is True
    assert wechat_auth.authConfig == {"appId": WX_APP, "appSecret": "******"}


def test_qr_login_from_url_to_session(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(WECHAT)
    url = login.buildQrConnectUrl(REDIRECT)
    assert url.endswith("#wechat_redirect") and "scope=snsapi_login" in url
    back = scan(sandbox, url.removesuffix("#wechat_redirect"), user="wx-bob")
    result = login.getLoginCode(back["code"], back["state"])
    assert set(result) == {"loginCode", "corpList", "userId"} and result["corpList"] == []
    auth = demo.getElement(AUTH_SERVICE)
    session = auth.exchangeLoginCode(result["loginCode"], platform="web")
    assert session["userId"] == result["userId"] and session["corpId"] is None
    user = auth.getUser(result["userId"])
    assert user.name == "鲍勃" and user.avatar.endswith("/wx-bob/0")
    with pytest.raises(LoginStateInvalid):  # the state was spent
        login.getLoginCode(wx_code(sandbox, "wx-bob"), back["state"])
    assert login.getLoginCode(wx_code(sandbox, "wx-bob"))["userId"] == result["userId"]  # found again

    # The refresh token is kept, encrypted at rest.
    row = demo.getElement(MODEL).get(f"Q(userId='{result['userId']}')")
    assert row.refreshToken and row.unionId and row.openId
    with sqlite3.connect(demo.root / "appData" / "jitlite.sqlite3") as db:
        [(raw,)] = db.execute("SELECT refreshToken FROM jit_wechat_auth").fetchall()
    assert raw and row.refreshToken not in raw


def test_seed_usage_examples_run_as_written(demo: jitlite.App, sandbox: Sandbox,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    app = demo
    app.getElement("auths.models.UserModel").create({"userId": "user123", "name": "用户123"})
    # Usage Example
    wechat_auth = app.getElement("auths.loginTypes.MyWeChatLogin")
    login_config = wechat_auth.getLoginConfig()
    login_result = wechat_auth.getLoginCode(wx_code(sandbox, "wx-alice"))
    assert login_config["authType"] == "WeChatType" and login_result["loginCode"]
    # getLoginConfig
    config = wechat_auth.getLoginConfig()
    print(config)
    # getLoginCode
    try:
        result = wechat_auth.getLoginCode(wx_code(sandbox, "wx-alice"))
        print(f"Login Code: {result['loginCode']}")
        print(f"Organization List: {result['corpList']}")
    except Exception as e:
        print(f"Login failed: {e}")
    # bind
    try:
        result = wechat_auth.bind("user123", wx_code(sandbox, "wx-carol"))
        print("WeChat account bound successfully")
    except Exception as e:
        print(f"Binding failed: {e}")
    assert result == {"success": True, "message": "Operation successful"}
    # getUserAuthInfo
    auth_model = app.getElement("auths.loginTypes.WeChatType.WeChatAuthModel")
    auth_obj = auth_model.get(filter="Q(userId='user123')", orderList=[])
    auth_info = wechat_auth.getUserAuthInfo(auth_obj)
    print(f"Authentication Status: {auth_info['isActive']}")
    # unbind
    result = wechat_auth.unbind("user123")
    print("WeChat account unbound successfully")
    assert result == {"success": True, "message": "Operation successful"}
    assert wechat_auth.getUserAuthInfo(auth_obj) == {"isActive": False}
    assert auth_model.get(filter="Q(userId='user123')", orderList=[]) is None
    # Frontend Login Component Integration
    frontend_config = {"componentType": "WeChatLogin", "appId": wechat_auth.authConfig["appId"],
                       "redirectUri": "https://yourdomain.com/auth/callback", "scope": "snsapi_login"}
    out = capsys.readouterr().out
    assert "{'isActive': True, 'authType': 'WeChatType', 'authConfig': {'appId': 'wxsandboxapp00001'}}" in out
    assert "Login Code: " in out and "Organization List: []" in out
    assert "WeChat account bound successfully\nAuthentication Status: True\nWeChat account unbound" in out
    assert frontend_config["appId"] == WX_APP


def test_bind_then_login_lands_on_the_bound_user(demo: jitlite.App, sandbox: Sandbox) -> None:
    login, auth = demo.getElement(WECHAT), demo.getElement(AUTH_SERVICE)
    owner = auth.createUser(name="Owner")
    assert login.bind(owner.userId, wx_code(sandbox, "wx-carol")) == {"success": True,
                                                                        "message": "Operation successful"}
    assert login.getLoginCode(wx_code(sandbox, "wx-carol"))["userId"] == owner.userId
    assert auth.getUser(owner.userId).name == "Owner"  # a nickname does not replace the user's name
    login.unbind(owner.userId)
    fresh = login.getLoginCode(wx_code(sandbox, "wx-carol"))["userId"]  # unbound: a first login again
    assert fresh != owner.userId


def test_bind_and_unbind_refusals(demo: jitlite.App, sandbox: Sandbox) -> None:
    login, auth = demo.getElement(WECHAT), demo.getElement(AUTH_SERVICE)
    alice = login.getLoginCode(wx_code(sandbox, "wx-alice"))["userId"]  # wx-alice is alice's now
    bob = auth.createUser(name="Bob")
    code = wx_code(sandbox, "wx-bob")
    with pytest.raises(UnknownUser, match="no user has the userId 'ghost'"):
        login.bind("ghost", code)
    assert login.bind(bob.userId, code)["success"] is True  # the code was not spent by the refusal
    with pytest.raises(IdentityConflict, match="already bound to another user"):
        login.bind(bob.userId, wx_code(sandbox, "wx-alice"))
    with pytest.raises(IdentityConflict, match="already bound to another user"):
        login.bind(alice, wx_code(sandbox, "wx-bob"))
    carol = auth.createUser(name="Carol")
    login.bind(carol.userId, wx_code(sandbox, "wx-carol"))
    with pytest.raises(IdentityConflict, match="already has another wechat account bound"):
        login.bind(carol.userId, login_code_of_new_person(sandbox, "wx-dave"))
    with pytest.raises(IdentityNotBound, match="has no wechat account bound"):
        login.unbind(auth.createUser().userId)
    with pytest.raises(UnknownUser):
        login.unbind("ghost")
    assert login.getLoginCode(wx_code(sandbox, "wx-bob"))["userId"] == bob.userId


def login_code_of_new_person(sandbox: Sandbox, key: str) -> str:
    """Add a WeChat user to the sandbox and return a login code of theirs."""
    sandbox.state.add_wechat_user({"key": key, "nickname": key})
    return wx_code(sandbox, key)


def test_registration_closed_by_settings(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    app = open_demo({"jitlite.toml": "[settings]\nallowRegistration = false\n"})
    login, auth = app.getElement(WECHAT), app.getElement(AUTH_SERVICE)
    with pytest.raises(RegistrationClosed, match=r"settings\.allowRegistration is false"):
        login.getLoginCode(wx_code(sandbox, "wx-alice"))
    assert auth.users.query()["totalCount"] == 0
    user = auth.createUser(name="Alice")
    login.bind(user.userId, wx_code(sandbox, "wx-alice"))
    assert login.getLoginCode(wx_code(sandbox, "wx-alice"))["userId"] == user.userId


def test_one_person_through_two_apps_of_one_open_platform_account(open_demo: Callable[..., jitlite.App],
                                                                   sandbox: Sandbox) -> None:
    sandbox.state.register_wechat_app("wxsandboxapp00002", "second-secret", open_account=DEFAULT_OPEN_ACCOUNT)
    sandbox.state.register_wechat_app("wxsandboxapp00003", "third-secret", open_account="another-account")
    extra: dict[str, Any] = {}
    for name, appid, secret in (("Second", "wxsandboxapp00002", "second-secret"),
                                ("Third", "wxsandboxapp00003", "third-secret")):
        extra[f"auths/loginTypes/{name}/e.json"] = {"type": "auths.loginTypes.WeChatType", "title": name,
                                                     "backendBundleEntry": ".", "frontBundleEntry": f"./{name}.json"}
        extra[f"auths/loginTypes/{name}/{name}.json"] = {"authConfig": {"appId": appid, "appSecret": secret}}
    app = open_demo(extra)
    first = app.getElement(WECHAT).getLoginCode(wx_code(sandbox, "wx-alice"))["userId"]
    second = app.getElement("auths.loginTypes.Second").getLoginCode(wx_code(sandbox, "wx-alice",
                                                                            "wxsandboxapp00002"))["userId"]
    third = app.getElement("auths.loginTypes.Third").getLoginCode(wx_code(sandbox, "wx-alice",
                                                                          "wxsandboxapp00003"))["userId"]
    assert first == second != third  # the same unionId, then another Open Platform account's
    apps = [i["appId"] for i in app.getElement(AUTH_SERVICE).identitiesOf(first, "wechat")]
    assert apps == [WX_APP, "wxsandboxapp00002"]


@pytest.mark.parametrize(("declared", "configured", "problem"), [
    (None, None, "the WeChat AppSecret is missing"),
    ("one-secret", "another-secret", "e.json appSecret and authConfig.appSecret differ"),
    ("sandbox-wechat-secret", None, None),
    (None, "sandbox-wechat-secret", None),
    ("sandbox-wechat-secret", "sandbox-wechat-secret", None),
])
def test_the_app_secret_is_needed_once(open_demo: Callable[..., jitlite.App], sandbox: Sandbox,
                                       declared: str | None, configured: str | None, problem: str | None) -> None:
    declaration: dict[str, Any] = {"type": "auths.loginTypes.WeChatType", "title": "WeChat Login",
                                   "backendBundleEntry": ".", "frontBundleEntry": "./MyWeChatLogin.json"}
    auth_config: dict[str, Any] = {"appId": WX_APP}
    if declared is not None:
        declaration["appSecret"] = declared
    if configured is not None:
        auth_config["appSecret"] = configured
    app = open_demo({"auths/loginTypes/MyWeChatLogin/e.json": declaration,
                     "auths/loginTypes/MyWeChatLogin/MyWeChatLogin.json": {"authConfig": auth_config}})
    if problem is not None:
        with pytest.raises(ElementBuildError, match=problem) as refused:
            app.getElement(WECHAT)
        assert "MyWeChatLogin/e.json" in str(refused.value) and "authConfig.appSecret" in str(refused.value)
        assert "one-secret" not in str(refused.value) and "another-secret" not in str(refused.value)
        return
    assert app.getElement(WECHAT).getLoginCode(wx_code(sandbox, "wx-bob"))["loginCode"]


def test_wechat_errcodes(open_demo: Callable[..., jitlite.App], demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(WECHAT)
    code = wx_code(sandbox, "wx-bob")
    login.getLoginCode(code)
    with pytest.raises(LoginRestartRequired) as reused:
        login.getLoginCode(code)
    assert reused.value.code == 40163 and isinstance(reused.value, Code)
    with pytest.raises(LoginRestartRequired) as invalid:
        login.getLoginCode("0" * 32)
    assert invalid.value.code == 40029
    wrong = open_demo({"jitlite.toml": '[variables]\nwechatAppSecret = "not-the-secret"\n'})
    with pytest.raises(ConfigurationError, match="AppSecret") as misconfigured:
        wrong.getElement(WECHAT).getLoginCode(wx_code(sandbox, "wx-bob"))
    assert misconfigured.value.code == 40125


def test_an_inactive_element_refuses(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(WECHAT)
    user = demo.getElement(AUTH_SERVICE).createUser()
    login.config = login.config.model_copy(update={"isActive": False})
    assert login.getLoginConfig()["isActive"] is False
    with pytest.raises(LoginInactive):
        login.getLoginCode(wx_code(sandbox, "wx-bob"))
    with pytest.raises(LoginInactive):
        login.bind(user.userId, wx_code(sandbox, "wx-bob"))
    with pytest.raises(LoginInactive):
        login.buildQrConnectUrl(REDIRECT)
    assert login.getUserAuthInfo({"appId": WX_APP, "userId": user.userId, "openId": "x"}) == {"isActive": False}


def test_jitlite_new_writes_the_secret_once(make_app: Callable[..., Any]) -> None:
    root = make_app({})
    result = CliRunner().invoke(main, ["new", "auths.loginTypes.WeChatType", "auths.loginTypes.Wx", "--app", str(root)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    folder = root / "auths" / "loginTypes" / "Wx"
    declaration = json.loads((folder / "e.json").read_text())
    config = json.loads((folder / "Wx.json").read_text())
    assert declaration["appSecret"] == "" and config == {"authConfig": {"appId": ""}, "isActive": True}
    declaration["appSecret"], config["authConfig"]["appId"] = "{{wxSecret}}", "wxfilledin"
    (folder / "e.json").write_text(json.dumps(declaration))
    (folder / "Wx.json").write_text(json.dumps(config))
    app = jitlite.App(root, environ={"wxSecret": "filled-in-secret"})
    assert app.getElement("auths.loginTypes.Wx").authConfig == {"appId": "wxfilledin", "appSecret": "******"}
