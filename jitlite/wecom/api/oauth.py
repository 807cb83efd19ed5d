"""Identity: who is logging in through a corp app (身份验证)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import BaseAPI, strip_status

if TYPE_CHECKING:
    from ..client import BaseCorpClient

__all__ = ["OAuthAPI"]


class OAuthAPI(BaseAPI):
    """``client.oauth``: exchange login codes of a self-built or 代开发 app."""

    _client: BaseCorpClient

    def getuserinfo(self, code: str) -> dict[str, Any]:
        """Return ``{userid, user_ticket?}`` for a member or ``{openid, external_userid?}`` otherwise.

        https://developer.work.weixin.qq.com/document/path/91023
        """
        data = self._client.call_api("GET", "cgi-bin/auth/getuserinfo", params={"code": code})
        return strip_status(data)

    def getuserdetail(self, user_ticket: str) -> dict[str, Any]:
        """Return the member's sensitive details (gender, avatar, mobile, email …) for a user_ticket.

        https://developer.work.weixin.qq.com/document/path/95833
        """
        data = self._client.call_api("POST", "cgi-bin/auth/getuserdetail", json={"user_ticket": user_ticket})
        return strip_status(data)
