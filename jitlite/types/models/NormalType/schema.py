"""The schema of ``models.NormalType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from jitlite.runtime.schema import ConfigModel, refers_to

__all__ = ["Config"]


class Config(ConfigModel):
    """Which database holds the model's table."""

    database: Annotated[str, AfterValidator(refers_to("databases.Meta"))] = Field(
        "databases.Default", description="The fullName of the database element")
