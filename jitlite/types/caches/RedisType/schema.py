"""The schema of ``caches.RedisType`` instances (loaded on its own: absolute imports).

Two forms are accepted: jitlite's ``{"url": "{{REDIS_URL}}"}``, and JitAi's
``{"host": "127.0.0.1", "port": 6379, "password": "{{REDIS_PASSWORD}}", "db": 1, "username": "default"}``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from pydantic import Field, SecretStr, model_validator

from jitlite.runtime.schema import ConfigModel, Secret, invalid

__all__ = ["Config"]

Timeout = Annotated[float, Field(gt=0, le=300)]


class Config(ConfigModel):
    """How to reach Redis; the URL and the password are secrets."""

    url: Secret | None = Field(None, description='A redis:// or rediss:// URL, best from a variable: "{{REDIS_URL}}"')
    host: str | None = Field(None, description="The Redis host (JitAi's form)")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(6379, description="The Redis port")
    password: SecretStr | None = Field(None, description='The password, best from a variable: "{{REDIS_PASSWORD}}"')
    db: Annotated[int, Field(ge=0, le=1_000_000)] = Field(1, description="The database number (JitAi's default: 1)")
    username: str | None = Field(None, description="The ACL user (Redis 6+); none by default")
    ssl: bool = Field(False, description="Connect with TLS (rediss://)")
    charset: Literal["utf-8", "utf8"] = Field("utf-8", description="Text encoding (JitAi's setting; UTF-8 only)")
    decode_responses: bool = Field(True, description="JitAi's client setting; jitlite decodes replies itself")
    socket_timeout: Timeout | None = Field(None, description="Seconds to wait for a reply")
    socket_connect_timeout: Timeout | None = Field(None, description="Seconds to wait for a connection")

    @model_validator(mode="after")
    def _one_form(self) -> Config:
        host_form = self.host is not None
        if self.url is not None and host_form:
            raise invalid("says how to reach Redis twice (url and host)", "keep one of them")
        if self.url is None and not host_form:
            raise invalid("does not say how to reach Redis",
                          'set "url": "{{REDIS_URL}}", or "host", "port" and "password" as JitAi writes them')
        if self.url is not None and ({"socket_timeout", "socket_connect_timeout", "ssl", "db", "port", "username",
                                      "password"} & self.model_fields_set):
            raise invalid("mixes url with host-form settings", "put them in the URL (redis://user:pw@host:6379/0"
                          "?socket_timeout=5), or drop url and use host")
        if self.url is not None and self.url.get_secret_value().split(":", 1)[0] not in ("redis", "rediss", "unix"):
            raise invalid("url must be a redis://, rediss:// or unix:// URL", "write it as redis://:password@host:6379/0")
        if host_form and not self.host.strip():  # type: ignore[union-attr]
            raise invalid("host is empty", "set the Redis host name or address")
        return self

    def connection_url(self) -> str:
        """Return the redis:// URL to connect with (it carries the password: a secret)."""
        if self.url is not None:
            return self.url.get_secret_value()
        user = quote(self.username or "", safe="")
        password = quote(self.password.get_secret_value(), safe="") if self.password is not None else ""
        credentials = f"{user}:{password}@" if user or password else ""
        host = self.host or ""
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address
        options = {name: value for name, value in (("socket_timeout", self.socket_timeout),
                                                   ("socket_connect_timeout", self.socket_connect_timeout))
                   if value is not None}
        query = f"?{urlencode(options)}" if options else ""
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{credentials}{host}:{self.port}/{self.db}{query}"
