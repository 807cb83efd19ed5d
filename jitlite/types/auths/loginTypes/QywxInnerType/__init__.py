"""``auths.loginTypes.QywxInnerType``: login through a WeCom self-built app."""

from __future__ import annotations

from typing import ClassVar

from jitlite.meta.auths import LoginType

from .schema import Config

__all__ = ["QywxInnerAuth"]


class QywxInnerAuth(LoginType):
    """A WeCom self-built app: QR login on the PC and password-free login in the workbench."""

    authModelName: ClassVar[str] = "QywxInnerAuthModel"
    config: Config

    @property
    def corpId(self) -> str:
        """Return the corp id."""
        return self.config.corpId

    @property
    def agentId(self) -> str:
        """Return the app's AgentId."""
        return str(self.config.agentId)
