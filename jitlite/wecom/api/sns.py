"""WeChat Open Platform website login (网站应用微信登录)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFoundOrOutOfScope, TokenExpiredError
from .base import BaseAPI, strip_status

if TYPE_CHECKING:
    from ..client import WeChatClient

__all__ = ["SnsAPI"]


class SnsAPI(BaseAPI):
    """``wechat.sns``: exchange login codes and read the user's profile."""

    _client: WeChatClient

    def oauth2_access_token(self, code: str) -> dict[str, Any]:
        """Exchange a login code for ``{access_token, expires_in, refresh_token, openid, scope, unionid?}``.

        https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Wechat_Login.html
        """
        client = self._client
        params = {
            "appid": client.app_id,
            "secret": client.app_secret_for_request(),
            "code": code,
            "grant_type": "authorization_code",
        }
        return strip_status(client.call_public("GET", "sns/oauth2/access_token", params=params))

    def oauth2_refresh_token(self, refresh_token: str) -> dict[str, Any]:
        """Renew a user's access_token with its refresh_token (valid 30 days).

        https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Authorized_Interface_Calling_UnionID.html
        """
        params = {
            "appid": self._client.app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        return strip_status(self._client.call_public("GET", "sns/oauth2/refresh_token", params=params))

    def userinfo(self, access_token: str, openid: str, lang: str = "zh_CN") -> dict[str, Any]:
        """Return the user's profile ``{openid, nickname, sex, headimgurl, unionid, …}``.

        https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Authorized_Interface_Calling_UnionID.html
        """
        if lang not in ("zh_CN", "zh_TW", "en"):
            raise ValueError(f"lang must be zh_CN, zh_TW or en, got {lang!r}")
        params = {"access_token": access_token, "openid": openid, "lang": lang}
        return strip_status(self._client.call_public("GET", "sns/userinfo", params=params))

    def auth(self, access_token: str, openid: str) -> bool:
        """Return whether a user's access_token is still valid for openid.

        https://developers.weixin.qq.com/doc/oplatform/Website_App/WeChat_Login/Authorized_Interface_Calling_UnionID.html
        """
        try:
            self._client.call_public("GET", "sns/auth", params={"access_token": access_token, "openid": openid})
        except (TokenExpiredError, NotFoundOrOutOfScope):
            return False
        return True
