"""The schema of ``corps.QywxProxyType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from jitlite.runtime.schema import ConfigModel, refers_to
from jitlite.runtime.schema import Declaration as BaseDeclaration
from jitlite.wecom.fields import WeComId

__all__ = ["Config", "Declaration"]


class Declaration(BaseDeclaration):
    """An organisation instance's ``e.json``."""

    version: str = Field("1.0.0", description="Version number")


class Config(ConfigModel):
    """The business config, ``<Name>.json``."""

    corpId: WeComId = Field(description="Enterprise ID under WeCom proxy development mode")
    authFullName: Annotated[str, AfterValidator(refers_to("auths.loginTypes.QywxProxyType"))] = Field(
        description="Corresponding WeCom proxy development authentication element fullName")
