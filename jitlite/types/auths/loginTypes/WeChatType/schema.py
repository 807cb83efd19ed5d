"""The schema of ``auths.loginTypes.WeChatType`` instances (loaded on its own: absolute imports).

The AppSecret may be given in ``e.json`` (``appSecret``, as the seed's Quick Start has it), in the
business config (``authConfig.appSecret``), or both; at least one is required and, when both are
given, they must be equal. ``jitlite new`` writes it once, in ``e.json``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jitlite.runtime.schema import ConfigModel, NonEmptyStr, Secret
from jitlite.runtime.schema import Declaration as BaseDeclaration
from jitlite.wecom.fields import WeComId

__all__ = ["AuthConfig", "Config", "Declaration"]


class Declaration(BaseDeclaration):
    """A WeChat login instance's ``e.json``, with the keys WeChatType adds."""

    appSecret: Secret | None = Field(
        None, description="WeChat application secret, used for server-side verification (here or in "
                          "authConfig.appSecret)", json_schema_extra={"scaffold": ""})
    backendBundleEntry: Literal["."] = Field(description='Backend entry, fixed value: "."')
    frontBundleEntry: NonEmptyStr = Field(description='Frontend configuration file path, usually "./<Name>.json"')


class AuthConfig(ConfigModel):
    """The Open Platform website app's credentials."""

    appId: WeComId = Field(description="WeChat Open Platform application ID")
    appSecret: Secret | None = Field(
        None, description="WeChat Open Platform application secret (here or in e.json appSecret)",
        json_schema_extra={"scaffold": False})


class Config(ConfigModel):
    """The business config, ``<Name>.json``."""

    authConfig: AuthConfig
    isActive: bool = Field(True, description="Whether to enable this login method")
