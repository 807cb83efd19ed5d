"""``auths.loginTypes.WeChatType``: WeChat Open Platform login."""

from __future__ import annotations

from typing import Any, ClassVar

from jitlite.meta.auths import LoginType

from .schema import Config

__all__ = ["WeChatAuth"]


class WeChatAuth(LoginType):
    """A WeChat Open Platform website app: QR login, bind and unbind."""

    authModelName: ClassVar[str] = "WeChatAuthModel"
    config: Config

    @property
    def authType(self) -> str:
        """Return "WeChatType", the identifier WeChat login has always used."""
        return "WeChatType"

    def getLoginConfig(self) -> dict[str, Any]:
        """Return what a login page needs: whether it is on, the auth type and the app id."""
        return {
            "isActive": self.isActive,
            "authType": self.authType,
            "authConfig": {"appId": self.config.authConfig.appId},
        }
