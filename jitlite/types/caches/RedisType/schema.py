"""The schema of ``caches.RedisType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from pydantic import Field

from jitlite.runtime.schema import ConfigModel, Secret

__all__ = ["Config"]


class Config(ConfigModel):
    """How to reach Redis; the URL may carry a password, so it is treated as a secret."""

    url: Secret = Field(description='A redis:// or rediss:// URL, best from a variable: "{{REDIS_URL}}"')
