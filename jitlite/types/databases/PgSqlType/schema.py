"""The schema of ``databases.PgSqlType`` instances (loaded on its own: absolute imports).

Three forms are accepted, each with placeholders allowed (``"{{PG_PASSWORD}}"``):

- jitlite's: ``{"url": "{{DATABASE_URL}}", "schema": "app"}``;
- JitAi's: ``{"dbType": "postgresql", "dbAlias": "Pg", "dbConfig": {"host", "port", "user", "password", "database"}}``;
- JitAi's flat one: ``{"host", "port", "user", "password", "dbname"}``.

The URL and the password are secrets: masked in ``jitlite show``, errors and logs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, Field, SecretStr, model_validator
from sqlalchemy import URL

from jitlite.runtime.schema import ConfigModel, NonEmptyStr, Secret, invalid

__all__ = ["Config", "PgDbConfig"]


def _postgres_url(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise invalid("must be a postgresql:// URL", 'write it as postgresql://user:password@host:5432/dbname')
    return value


Port = Annotated[int, Field(ge=1, le=65535)]


class PgDbConfig(ConfigModel):
    """How to reach PostgreSQL, as JitAi's ``dbConfig`` (or its flat form) says it."""

    host: NonEmptyStr = Field(description="The server's host name or address")
    port: Port = Field(5432, description="The server's port")
    user: NonEmptyStr = Field(description="The user to log in as")
    password: SecretStr = Field(SecretStr(""), description='The password, best from a variable: "{{PG_PASSWORD}}"')
    database: NonEmptyStr = Field(validation_alias=AliasChoices("database", "dbname"), description="The database name")

    def url(self) -> URL:
        """Return the connection URL (its password is rendered only when the engine connects)."""
        return URL.create("postgresql+psycopg", username=self.user, password=self.password.get_secret_value() or None,
                          host=self.host, port=self.port, database=self.database)


class Config(ConfigModel):
    """How to reach PostgreSQL; the URL and the password are secrets."""

    url: Annotated[SecretStr, AfterValidator(_postgres_url)] | None = Field(
        None, description='postgresql://user:password@host:5432/dbname, best from a variable: "{{DATABASE_URL}}"')
    schema_: str | None = Field(None, alias="schema", description="The schema (search_path) to use")
    dbType: Literal["postgresql", "pgsql", "postgres"] | None = Field(None, description="JitAi's database kind")
    dbAlias: str | None = Field(None, description="JitAi's alias of the database (kept, not used)")
    dbConfig: PgDbConfig | None = Field(None, description="JitAi's connection settings")
    # JitAi's flat form.
    host: str | None = Field(None, description="The server's host name (JitAi's flat form)")
    port: Port | None = Field(None, description="The server's port (JitAi's flat form)")
    user: str | None = Field(None, description="The user (JitAi's flat form)")
    password: Secret | None = Field(None, description="The password (JitAi's flat form)")
    dbname: str | None = Field(None, description="The database name (JitAi's flat form)")
    poolSize: int = Field(16, ge=1, le=1000, description=(
        "Connections each process keeps open: at least the requests one process serves at once (gunicorn's "
        "threads, 16 by default), or each request past it opens and closes a connection of its own"))
    maxOverflow: int = Field(4, ge=0, le=1000, description=(
        "Connections opened past poolSize at busy moments, closed when returned. Keep every process's "
        "poolSize + maxOverflow within the server's max_connections"))

    @model_validator(mode="after")
    def _one_form(self) -> Config:
        flat = {"host", "port", "user", "password", "dbname"} & self.model_fields_set
        forms = [name for name, used in (("url", self.url is not None), ("dbConfig", self.dbConfig is not None),
                                          ("host/port/user/password/dbname", bool(flat))) if used]
        if len(forms) > 1:
            raise invalid(f"says how to reach PostgreSQL in more than one way ({', '.join(forms)})", "keep one")
        if not forms:
            raise invalid("does not say how to reach PostgreSQL",
                          'set "url": "{{DATABASE_URL}}", or "dbConfig": {"host", "port", "user", "password", '
                          '"database"}')
        if flat:
            missing = [key for key in ("host", "user", "dbname") if not getattr(self, key)]
            if missing:
                raise invalid(f"lacks {', '.join(missing)}", "give host, port, user, password and dbname")
        return self

    def connection_url(self) -> str | URL:
        """Return the URL to connect with, whichever form the config used."""
        if self.url is not None:
            return self.url.get_secret_value()
        if self.dbConfig is not None:
            return self.dbConfig.url()
        password = self.password.get_secret_value() if self.password is not None else None
        return URL.create("postgresql+psycopg", username=self.user, password=password, host=self.host,
                          port=self.port or 5432, database=self.dbname)
