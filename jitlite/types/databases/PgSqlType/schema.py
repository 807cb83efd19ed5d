"""The schema of ``databases.PgSqlType`` instances (loaded on its own: absolute imports)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from jitlite.runtime.schema import ConfigModel, Secret, invalid

__all__ = ["Config"]


def _postgres_url(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise invalid("must be a postgresql:// URL", 'write it as postgresql://user:password@host:5432/dbname')
    return value


class Config(ConfigModel):
    """How to reach PostgreSQL; the URL carries a password, so it is a secret."""

    url: Annotated[Secret, AfterValidator(_postgres_url)] = Field(
        description='postgresql://user:password@host:5432/dbname, best from a variable: "{{DATABASE_URL}}"')
    schema_: str | None = Field(None, alias="schema", description="The schema (search_path) to use")
