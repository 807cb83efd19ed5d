"""The schema of ``models.NormalType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from jitlite.runtime.schema import ConfigModel, refers_to
from jitlite.runtime.schema import Declaration as BaseDeclaration

__all__ = ["Config", "Declaration"]


class Declaration(BaseDeclaration):
    """A model's e.json: JitAi names its database here, as ``"db": "databases.Default"``."""

    db: Annotated[str, AfterValidator(refers_to("databases.Meta"))] | None = Field(
        None, description="The fullName of the database element holding the table (databases.Default if unset)")


class Config(ConfigModel):
    """Which database holds the model's table (e.json's ``db`` says the same, as JitAi writes it)."""

    database: Annotated[str, AfterValidator(refers_to("databases.Meta"))] = Field(
        "databases.Default", description="The fullName of the database element")
