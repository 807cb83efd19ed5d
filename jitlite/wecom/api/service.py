"""Third-party suites and providers (应用授权, 身份验证, 服务商登录)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .base import BaseAPI, strip_status

if TYPE_CHECKING:
    from ..client import ProviderClient, SuiteClient

__all__ = ["ProviderServiceAPI", "SuiteServiceAPI"]


def _version_path(name: str, version: int) -> str:
    if version == 1:
        return f"cgi-bin/service/{name}"
    if version == 2:
        return f"cgi-bin/service/v2/{name}"
    raise ValueError(f"version must be 1 or 2, got {version!r}")


class SuiteServiceAPI(BaseAPI):
    """``suite.service``: suite token, installation flow and third-party login."""

    _client: SuiteClient

    def get_suite_token(self) -> dict[str, Any]:
        """Fetch a fresh ``{suite_access_token, expires_in}`` with the newest ticket (bypasses the cache).

        https://developer.work.weixin.qq.com/document/path/90600
        """
        client = self._client
        return client.call_public("POST", "cgi-bin/service/get_suite_token", json=client.suite_token_request())

    def get_pre_auth_code(self) -> dict[str, Any]:
        """Return ``{pre_auth_code, expires_in}`` to start an installation.

        https://developer.work.weixin.qq.com/document/path/90601
        """
        return strip_status(self._client.call_api("GET", "cgi-bin/service/get_pre_auth_code"))

    def set_session_info(self, pre_auth_code: str, appids: Iterable[int] | None = None, auth_type: int = 0) -> None:
        """Limit a pre_auth_code to some apps and choose a formal (0) or test (1) authorisation.

        https://developer.work.weixin.qq.com/document/path/90602
        """
        if auth_type not in (0, 1):
            raise ValueError(f"auth_type must be 0 (formal) or 1 (test), got {auth_type!r}")
        session_info: dict[str, Any] = {"auth_type": auth_type}
        if appids is not None:
            session_info["appid"] = list(appids)
        self._client.call_api(
            "POST",
            "cgi-bin/service/set_session_info",
            json={"pre_auth_code": pre_auth_code, "session_info": session_info},
        )

    def get_permanent_code(self, auth_code: str, version: int = 1) -> dict[str, Any]:
        """Exchange a temporary auth code (single use, 10 minutes) for the corp's permanent code.

        v1: https://developer.work.weixin.qq.com/document/path/90603 (also returns access_token and
        auth_info); v2: https://developer.work.weixin.qq.com/document/path/100776 (faster, leaner).
        """
        data = self._client.call_api(
            "POST", _version_path("get_permanent_code", version), json={"auth_code": auth_code}
        )
        return strip_status(data)

    def get_auth_info(self, auth_corpid: str, permanent_code: str, version: int = 1) -> dict[str, Any]:
        """Return the corp's authorisation: auth_corp_info, auth_info.agent (agent ids, privileges) ….

        v1: https://developer.work.weixin.qq.com/document/path/90604;
        v2: https://developer.work.weixin.qq.com/document/path/100795
        """
        data = self._client.call_api(
            "POST",
            _version_path("get_auth_info", version),
            json={"auth_corpid": auth_corpid, "permanent_code": permanent_code},
        )
        return strip_status(data)

    def get_corp_token(self, auth_corpid: str, permanent_code: str) -> dict[str, Any]:
        """Return ``{access_token, expires_in}`` of an authorised corp (third-party apps, not 代开发).

        https://developer.work.weixin.qq.com/document/path/90605
        """
        data = self._client.call_api(
            "POST",
            "cgi-bin/service/get_corp_token",
            json={"auth_corpid": auth_corpid, "permanent_code": permanent_code},
        )
        return strip_status(data)

    def getuserinfo3rd(self, code: str) -> dict[str, Any]:
        """Return ``{corpid, userid, user_ticket?, open_userid}`` (or ``{openid}``) for a login code.

        https://developer.work.weixin.qq.com/document/path/91121
        """
        data = self._client.call_api("GET", "cgi-bin/service/auth/getuserinfo3rd", params={"code": code})
        return strip_status(data)

    def getuserdetail3rd(self, user_ticket: str) -> dict[str, Any]:
        """Return ``{corpid, userid, gender, avatar, qr_code}`` for a user_ticket.

        https://developer.work.weixin.qq.com/document/path/91122
        """
        data = self._client.call_api("POST", "cgi-bin/service/auth/getuserdetail3rd", json={"user_ticket": user_ticket})
        return strip_status(data)


class ProviderServiceAPI(BaseAPI):
    """``provider.service``: provider token and admin login to the provider's site."""

    _client: ProviderClient

    def get_provider_token(self) -> dict[str, Any]:
        """Fetch a fresh ``{provider_access_token, expires_in}`` (bypasses the cache).

        https://developer.work.weixin.qq.com/document/path/91200
        """
        client = self._client
        return client.call_public("POST", "cgi-bin/service/get_provider_token", json=client.provider_token_request())

    def get_login_info(self, auth_code: str) -> dict[str, Any]:
        """Return ``{usertype, user_info, corp_info, agent, auth_info}`` for a login auth_code.

        https://developer.work.weixin.qq.com/document/path/91125
        """
        data = self._client.call_api(
            "POST",
            "cgi-bin/service/get_login_info",
            json={"auth_code": auth_code},
            token_param="access_token",  # this endpoint names the provider token access_token
        )
        return strip_status(data)
