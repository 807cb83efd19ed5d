"""The WeChat Open Platform website-login API under /sns/.

As WeChat does, successful answers carry no `errcode`; errors carry `errcode` and `errmsg`.
openIds differ per app; unionIds are shared by the apps of one open-platform account.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from jitlite.sandbox._web import api_route, arg, json_response, sandbox_state
from jitlite.sandbox.errors import ApiError
from jitlite.sandbox.models import SnsRefreshToken, SnsToken, WeChatApp
from jitlite.sandbox.state import SandboxState

__all__ = ["bp"]

bp = Blueprint("sandbox_sns", __name__, url_prefix="/sns")


def _app(state: SandboxState, appid: str | None) -> WeChatApp:
    if appid is None:
        raise ApiError(41002, "appid missing")
    app = state.wechat_apps.get(appid)
    if app is None:
        raise ApiError(40013, "invalid appid")
    return app


def _token_json(state: SandboxState, app: WeChatApp, token: SnsToken,
                refresh: SnsRefreshToken) -> dict[str, Any]:
    data: dict[str, Any] = {
        "access_token": token.value,
        "expires_in": state.expires_in_of(token.expires_at),
        "refresh_token": refresh.value,
        "openid": state.openid(app.appid, token.user_key),
        "scope": token.scope,
    }
    if app.open_account:
        data["unionid"] = state.unionid(app.open_account, token.user_key)
    return data


def _checked_token(state: SandboxState) -> SnsToken:
    token = state.check_sns_token(arg("access_token"))
    openid = arg("openid")
    if openid is None:
        raise ApiError(41009, "openid missing")
    if openid != state.openid(token.appid, token.user_key):
        raise ApiError(40003)
    return token


@api_route(bp, "/oauth2/access_token", "GET")
def oauth2_access_token() -> Response:
    """Exchange a website-login code for an access token, openid and unionid.

    https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Wechat_Login.html
    """
    state = sandbox_state()
    with state.lock:
        app = _app(state, arg("appid"))
        secret = arg("secret")
        if secret is None:
            raise ApiError(41004, "appsecret missing")
        if secret != app.secret:
            raise ApiError(40125)
        if arg("code") is None:
            raise ApiError(41008)
        if arg("grant_type") != "authorization_code":
            raise ApiError(40002)
        code = state.take_login_code(arg("code"), "wechat", lambda c: c.app_id == app.appid)
        token, refresh = state.issue_sns_tokens(app.appid, code.userid, code.scope)
        return json_response(_token_json(state, app, token, refresh))


@api_route(bp, "/oauth2/refresh_token", "GET")
def oauth2_refresh_token() -> Response:
    """Return a new access token for a refresh token (valid thirty days).

    https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Authorization_Interface_Calling.html
    """
    state = sandbox_state()
    with state.lock:
        app = _app(state, arg("appid"))
        if arg("grant_type") != "refresh_token":
            raise ApiError(40002)
        refresh = state.check_sns_refresh(arg("refresh_token"), app.appid)
        token, refresh = state.issue_sns_tokens(app.appid, refresh.user_key, refresh.scope, refresh)
        return json_response(_token_json(state, app, token, refresh))


@api_route(bp, "/userinfo", "GET")
def userinfo() -> Response:
    """Return the WeChat user's profile for an access token and openid."""
    state = sandbox_state()
    with state.lock:
        token = _checked_token(state)
        user = state.org.wechat_users[token.user_key]
        app = state.wechat_apps[token.appid]
        data: dict[str, Any] = {
            "openid": state.openid(app.appid, user.key),
            "nickname": user.nickname,
            "sex": user.sex,
            "province": user.province,
            "city": user.city,
            "country": user.country,
            "headimgurl": user.headimgurl,
            "privilege": [],
        }
        if app.open_account:
            data["unionid"] = state.unionid(app.open_account, user.key)
        return json_response(data)


@api_route(bp, "/auth", "GET")
def auth() -> Response:
    """Answer errcode 0 when the access token is valid for the openid."""
    state = sandbox_state()
    with state.lock:
        _checked_token(state)
        return json_response({"errcode": 0, "errmsg": "ok"})
