"""The login URLs of WeCom and WeChat, as pure functions (no I/O, no clock, no randomness).

Each takes the host (``https://login.work.weixin.qq.com``, ``https://open.weixin.qq.com`` or a
sandbox) and the values the login needs, checks them, and returns the URL a browser is sent to.
The caller supplies the OAuth ``state`` (single use, issued by ``jitlite.meta.login_states``).

* :func:`wecom_web_login_url` — WeCom web login (企业微信网页登录, QR on the PC), ``login_type``
  ``CorpApp`` (a self-built or 代开发 app: ``appid`` is the corp id, ``agentid`` required) or
  ``ServiceApp`` (a third-party suite: ``appid`` is the suite id).
  https://developer.work.weixin.qq.com/document/path/98151
* :func:`wecom_oauth_url` — WeCom OAuth inside the WeCom client (the workbench, 网页授权).
  https://developer.work.weixin.qq.com/document/path/91022
* :func:`wechat_qrconnect_url` — WeChat website login (网站应用微信登录), ``scope=snsapi_login``.
  https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Wechat_Login.html
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlencode, urlsplit

__all__ = [
    "MAX_REDIRECT_URI_LENGTH",
    "MAX_STATE_LENGTH",
    "WeComLoginType",
    "wechat_qrconnect_url",
    "wecom_oauth_url",
    "wecom_web_login_url",
]

WeComLoginType = Literal["CorpApp", "ServiceApp"]

#: WeCom and WeChat give ``state`` back only if it is at most 128 letters and digits.
MAX_STATE_LENGTH = 128
MAX_REDIRECT_URI_LENGTH = 2048
_STATE = re.compile(r"[A-Za-z0-9]{1,128}")
_APP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_AGENT_ID = re.compile(r"[0-9]{1,20}")
_LANGS = ("zh", "en")


def _host(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"the login host must be an http(s) URL without query, got {base_url!r}")
    return base_url.rstrip("/")


def _redirect(uri: str) -> str:
    if not isinstance(uri, str) or len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise ValueError(f"redirect_uri must be a URL of at most {MAX_REDIRECT_URI_LENGTH} characters")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ValueError(f"redirect_uri must be an absolute http(s) URL without a #fragment, got {uri!r}")
    return uri


def _state(state: str) -> str:
    if not isinstance(state, str) or not _STATE.fullmatch(state):
        raise ValueError(f"state must be 1 to {MAX_STATE_LENGTH} letters or digits (WeCom and WeChat drop others)")
    return state


def _app_id(value: str, name: str) -> str:
    if not isinstance(value, str) or not _APP_ID.fullmatch(value):
        raise ValueError(f"{name} must be a WeCom/WeChat id (letters, digits, '_' or '-'), got {value!r}")
    return value


def _agent_id(value: str | int | None, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ValueError("agentid is required for login_type=CorpApp: give the app's AgentId")
        return None
    text = str(value)
    if not _AGENT_ID.fullmatch(text):
        raise ValueError(f"agentid must be the app's numeric AgentId, got {value!r}")
    return text


def wecom_web_login_url(
    base_url: str,
    *,
    appid: str,
    redirect_uri: str,
    state: str,
    login_type: WeComLoginType = "CorpApp",
    agentid: str | int | None = None,
    lang: str | None = None,
) -> str:
    """Return the WeCom web-login (QR) URL: ``{base}/wwlogin/sso/login?login_type=…&appid=…``."""
    if login_type not in ("CorpApp", "ServiceApp"):
        raise ValueError(f"login_type must be CorpApp or ServiceApp, got {login_type!r}")
    query = {"login_type": login_type,
             "appid": _app_id(appid, "appid (the corp id for CorpApp, the suite id for ServiceApp)")}
    agent = _agent_id(agentid, required=login_type == "CorpApp")
    if agent is not None:
        query["agentid"] = agent
    query["redirect_uri"] = _redirect(redirect_uri)
    query["state"] = _state(state)
    if lang is not None:
        if lang not in _LANGS:
            raise ValueError(f"lang must be zh or en, got {lang!r}")
        query["lang"] = lang
    return f"{_host(base_url)}/wwlogin/sso/login?{urlencode(query)}"


def wecom_oauth_url(
    base_url: str,
    *,
    appid: str,
    redirect_uri: str,
    state: str,
    scope: Literal["snsapi_base", "snsapi_privateinfo"] = "snsapi_base",
    agentid: str | int | None = None,
) -> str:
    """Return the WeCom OAuth URL opened inside the WeCom client (``{base}/connect/oauth2/authorize``).

    ``snsapi_privateinfo`` (which gives a user_ticket for the member's sensitive details) needs
    ``agentid``.
    """
    if scope not in ("snsapi_base", "snsapi_privateinfo"):
        raise ValueError(f"scope must be snsapi_base or snsapi_privateinfo, got {scope!r}")
    query = {"appid": _app_id(appid, "appid (the corp id or suite id)"), "redirect_uri": _redirect(redirect_uri),
             "response_type": "code", "scope": scope, "state": _state(state)}
    agent = _agent_id(agentid, required=scope == "snsapi_privateinfo")
    if agent is not None:
        query["agentid"] = agent
    return f"{_host(base_url)}/connect/oauth2/authorize?{urlencode(query)}#wechat_redirect"


def wechat_qrconnect_url(
    base_url: str,
    *,
    appid: str,
    redirect_uri: str,
    state: str,
    lang: Literal["cn", "en"] | None = None,
) -> str:
    """Return the WeChat website-login URL (``{base}/connect/qrconnect``, ``scope=snsapi_login``)."""
    query = {"appid": _app_id(appid, "appid (the website app's AppID)"), "redirect_uri": _redirect(redirect_uri),
             "response_type": "code", "scope": "snsapi_login", "state": _state(state)}
    if lang is not None:
        if lang not in ("cn", "en"):
            raise ValueError(f"lang must be cn or en, got {lang!r}")
        query["lang"] = lang
    return f"{_host(base_url)}/connect/qrconnect?{urlencode(query)}#wechat_redirect"
