"""jitlite's storage library: models, Q filters, engines and encrypted secrets on SQLAlchemy 2.

::

    from jitlite.storage import AutoInt, Model, Q, Secret, SecretBox, Stext, create_sqlite_engine

    class CorpAuth(Model):
        __tablename__ = "corp_auth"
        __unique__ = [("suiteId", "corpId")]
        id = AutoInt(primary_key=True)
        suiteId = Stext(max_length=64)
        corpId = Stext(max_length=64)
        permanentCode = Secret()

    engine = create_sqlite_engine("appData/app.db")          # or create_pg_engine(url)
    auths = CorpAuth.bind(engine, secret_box=SecretBox.from_env())   # creates or migrates the table
    auths.createOrUpdateMany([{"suiteId": "s1", "corpId": "c1", "permanentCode": "…"}])
    auths.query("Q(suiteId='s1') & ~Q(corpId__in=['c2'])", orderList=[["corpId", 1]])
"""

from __future__ import annotations

from .engine import create_pg_engine, create_sqlite_engine, ensure_schema, write_engine
from .errors import (
    AmbiguousFilterError,
    ConstraintError,
    FieldValueError,
    FilterError,
    ModelDefinitionError,
    QueryError,
    SchemaError,
    SecretKeyError,
    StorageError,
    UnknownFieldError,
)
from .fields import (
    AutoInt,
    Boolean,
    Checkbox,
    Date,
    Datetime,
    Email,
    Field,
    Integer,
    JitDict,
    JitList,
    Json,
    Ltext,
    Money,
    Numeric,
    Phone,
    Secret,
    Stext,
    utc_now,
)
from .model import Model, ModelManager, Row
from .qfilter import Q, parse_filter
from .secrets import SECRET_KEY_VARIABLE, SecretBox

__all__ = [
    "SECRET_KEY_VARIABLE",
    "AmbiguousFilterError",
    "AutoInt",
    "Boolean",
    "Checkbox",
    "ConstraintError",
    "Date",
    "Datetime",
    "Email",
    "Field",
    "FieldValueError",
    "FilterError",
    "Integer",
    "JitDict",
    "JitList",
    "Json",
    "Ltext",
    "Model",
    "ModelDefinitionError",
    "ModelManager",
    "Money",
    "Numeric",
    "Phone",
    "Q",
    "QueryError",
    "Row",
    "SchemaError",
    "Secret",
    "SecretBox",
    "SecretKeyError",
    "Stext",
    "StorageError",
    "UnknownFieldError",
    "create_pg_engine",
    "create_sqlite_engine",
    "ensure_schema",
    "parse_filter",
    "utc_now",
    "write_engine",
]
