"""The schema of ``auths.loginTypes.QywxInnerType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field

from jitlite.runtime.schema import ConfigModel, HttpUrlStr, NonEmptyStr, Secret
from jitlite.wecom.fields import AgentId, WeComId

__all__ = ["Config"]


class Config(ConfigModel):
    """The business config, ``<Name>.json``."""

    corpId: WeComId = Field(description="WeCom enterprise ID")
    corpSecret: Secret = Field(description="WeCom application Secret")
    agentId: AgentId = Field(description="WeCom application AgentID")
    redirectUri: HttpUrlStr = Field(description="OAuth2 redirect URI for receiving authorization code")
    isActive: bool = Field(True, description="Whether to enable this login method")
    corpName: NonEmptyStr | None = Field(None, description="The corp's name in corpList (default: its root "
                                                            "department's name, read from WeCom)")
