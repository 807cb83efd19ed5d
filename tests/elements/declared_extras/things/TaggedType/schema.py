"""A Type that declares an extra e.json key, ``tags``, one letter away from the standard ``tag``."""

from pydantic import Field

from jitlite.runtime.schema import ConfigModel
from jitlite.runtime.schema import Declaration as BaseDeclaration


class Declaration(BaseDeclaration):
    """An instance's e.json: the standard fields and ``tags``."""

    tags: list[str] = Field(default_factory=list)


class Config(ConfigModel):
    """No business config."""
