"""The schema of ``auths.loginTypes.QywxProxyType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field

from jitlite.runtime.schema import ConfigModel, Secret
from jitlite.wecom.fields import CallbackToken, EncodingAESKey, WeComId

__all__ = ["AuthConfig", "Config"]


class AuthConfig(ConfigModel):
    """The third-party suite's credentials and callback keys."""

    suiteId: WeComId = Field(description="Third-party application suite ID")
    suiteSecret: Secret = Field(description="Third-party application suite secret")
    encodingAESKey: EncodingAESKey = Field(description="AES key for encrypting callback data")
    token: CallbackToken = Field(description="Token for verifying callback requests")


class Config(ConfigModel):
    """The business config, ``<Name>.json``."""

    authConfig: AuthConfig = Field(description="Authentication configuration object")
    isActive: bool = Field(True, description="Whether to enable this login method")
    corpId: WeComId | None = Field(None, description="WeCom enterprise ID")
