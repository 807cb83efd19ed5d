"""``auths.loginTypes.QywxProxyType``: WeCom proxy-development (代开发) login."""

from __future__ import annotations

from typing import Any, ClassVar

from jitlite.meta.auths import LoginType

from .schema import Config

__all__ = ["QywxProxyAuth"]


class QywxProxyAuth(LoginType):
    """A WeCom third-party suite in proxy-development mode, serving every corp that authorises it."""

    authModelName: ClassVar[str] = "QywxProxyAuthModel"
    config: Config

    @property
    def suiteId(self) -> str:
        """Return the suite id."""
        return self.config.authConfig.suiteId

    @property
    def corpId(self) -> str | None:
        """Return the default corp id of this login configuration, if one is set."""
        return self.config.corpId

    def getLoginConfig(self) -> dict[str, Any]:
        """Return what a login page needs: the suite id, the default corp and the switches; no secret."""
        return {
            "suiteId": self.suiteId,
            "corpId": self.corpId,
            "authType": self.authType,
            "isActive": self.isActive,
        }
