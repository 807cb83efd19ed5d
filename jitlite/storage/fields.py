"""jitlite's data types as field declarations, each mapped to a portable SQL column."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from ..runtime import clock
from .errors import ModelDefinitionError

__all__ = [
    "AutoInt",
    "Boolean",
    "Checkbox",
    "Datetime",
    "Field",
    "Integer",
    "JitDict",
    "JitList",
    "Json",
    "Ltext",
    "Numeric",
    "Secret",
    "Stext",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

ALL_LOOKUPS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "like", "startswith", "endswith", "isnull", "range"}
)
_ORDERED_LOOKUPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "isnull", "range"})


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC (the default of created/updated fields)."""
    return clock.utc_now()


class _Missing:
    """The "no default" marker (None is a legitimate default)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# --- column types ---------------------------------------------------------------------------------


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC: naive UTC text on SQLite, timestamptz on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC; SQLite keeps no offset, so store naive UTC there."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Datetime values must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver gave back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class _SqliteJson(TypeDecorator[Any]):
    """JSON kept as TEXT on SQLite (TEXT affinity, so "123" never turns into a number)."""

    impl = sa.Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        """Parse the stored JSON text."""
        return None if value is None else json.loads(value)


class _PgJsonb(UserDefinedType[Any]):
    """JSONB on PostgreSQL, bound from JSON text that the field has already serialised."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """Render the column type."""
        return "JSONB"

    def bind_expression(self, bindvalue: Any) -> Any:
        """Cast the bound JSON text to jsonb on the server (psycopg returns jsonb parsed)."""
        return sa.cast(sa.type_coerce(bindvalue, sa.Text()), JSONB())


# One encoder for every JSON field: json.dumps with options builds a new encoder per call.
# The default separators match PostgreSQL's jsonb text form, so `like` sees the same text on both.
_JSON_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def json_column_type() -> TypeEngine[Any]:
    """Return the portable JSON column type: TEXT on SQLite, JSONB on PostgreSQL."""
    return _SqliteJson().with_variant(_PgJsonb(), "postgresql")


# --- fields ---------------------------------------------------------------------------------------


class Field:
    """A model field: its SQL column, its value checks and what filters and ordering it supports."""

    kind: ClassVar[str] = ""  # the type family, used by migrations to spot incompatible changes
    lookups: ClassVar[frozenset[str]] = ALL_LOOKUPS
    orderable: ClassVar[bool] = True
    indexable: ClassVar[bool] = True
    secret: ClassVar[bool] = False
    autoincrement: ClassVar[bool] = False

    def __init__(
        self,
        *,
        title: str | None = None,
        nullable: bool | None = None,
        default: Any = MISSING,
        primary_key: bool = False,
        unique: bool = False,
        index: bool = False,
    ) -> None:
        self.name = ""
        self.title = title
        self.primary_key = primary_key
        self.nullable = (not primary_key) if nullable is None else nullable
        self.default = default
        self.unique = unique
        self.index = index
        if primary_key and self.nullable:
            raise ModelDefinitionError(f"{self!r}: a primary key cannot be nullable")
        if not self.indexable and (unique or index or primary_key):
            raise ModelDefinitionError(f"{self!r}: {type(self).__name__} fields cannot be keys or indexed")
        if default is not MISSING and default is not None and not callable(default):
            try:
                self.to_db(default)
            except (TypeError, ValueError) as exc:
                raise ModelDefinitionError(f"{self!r}: invalid default {default!r}: {exc}") from None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type_args()})" + (f" {self.name!r}" if self.name else "")

    # -- declaration -------------------------------------------------------------------------------

    def type_args(self) -> str:
        """Return the type's own arguments as source text ("max_length=64")."""
        return ""

    def signature(self) -> dict[str, Any]:
        """Return what the database schema depends on, for the schema hash."""
        return {
            "type": f"{type(self).__name__}({self.type_args()})",
            "nullable": self.nullable,
            "primary_key": self.primary_key,
            "default": repr(self.server_default_value()),
        }

    def sa_type(self) -> TypeEngine[Any]:
        """Return the SQLAlchemy column type."""
        raise NotImplementedError

    @property
    def has_default(self) -> bool:
        """Return whether a missing value is filled in on insert."""
        return self.default is not MISSING

    @property
    def required(self) -> bool:
        """Return whether an insert must supply a value."""
        return not self.nullable and not self.has_default and not self.autoincrement

    def make_default(self) -> Any:
        """Return a fresh default value (callables are called per row)."""
        return self.default() if callable(self.default) else self.default

    def server_default_value(self) -> Any:
        """Return the default the database itself applies, or None (callables have none)."""
        if self.default is MISSING or self.default is None or callable(self.default):
            return None
        return self.to_db(self.default)

    def server_default(self) -> Any:
        """Return the column's server default clause, so added columns fill existing rows."""
        value = self.server_default_value()
        if value is None:
            return None
        if isinstance(value, bool):
            return sa.true() if value else sa.false()
        if isinstance(value, (int, Decimal)):
            return sa.text(str(value))
        if isinstance(value, str):
            return value  # rendered as a quoted literal by SQLAlchemy
        return None

    def make_column(self) -> sa.Column[Any]:
        """Return a new SQLAlchemy column for this field."""
        return sa.Column(
            self.name,
            self.sa_type(),
            primary_key=self.primary_key,
            nullable=self.nullable,
            autoincrement=self.autoincrement if self.primary_key else False,
            server_default=self.server_default(),
        )

    # -- values ------------------------------------------------------------------------------------

    def to_db(self, value: Any) -> Any:
        """Return ``value`` checked and converted for the column; raise ValueError or TypeError."""
        if value is None:
            if not self.nullable:
                raise ValueError("cannot be None (the field is not nullable)")
            return None
        return self.convert(value)

    def convert(self, value: Any) -> Any:
        """Check and convert a non-None value."""
        raise NotImplementedError

    def filter_value(self, value: Any) -> Any:
        """Check and convert a value compared with this field in a filter."""
        return self.convert(value)

    def writer(self) -> Callable[[Any], Any]:
        """Return the function that prepares a value of this field for the database.

        Subclasses return a closure with a fast path for the common, valid value and fall back to
        ``to_db`` for everything else (None, conversions, and the precise error message).
        """
        return self.to_db


def _type_name(value: Any) -> str:
    return type(value).__name__


class _Text(Field):
    kind = "text"

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {_type_name(value)}")
        if "\x00" in value:
            raise ValueError("text contains a NUL character, which PostgreSQL cannot store")
        return value

    def filter_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {_type_name(value)}")
        return value


class Stext(_Text):
    """Short text, at most ``max_length`` characters (VARCHAR)."""

    def __init__(self, max_length: int = 255, **options: Any) -> None:
        if not isinstance(max_length, int) or isinstance(max_length, bool) or not 1 <= max_length <= 10_485_760:
            raise ModelDefinitionError(f"Stext max_length must be an int from 1 to 10485760, got {max_length!r}")
        self.max_length = max_length
        super().__init__(**options)

    def type_args(self) -> str:
        return f"max_length={self.max_length}"

    def sa_type(self) -> TypeEngine[Any]:
        return sa.String(self.max_length)

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if len(value) > self.max_length:
            raise ValueError(f"text is {len(value)} characters long; the field allows {self.max_length}")
        return value

    def writer(self) -> Callable[[Any], Any]:
        limit, slow = self.max_length, self.to_db

        def write(value: Any) -> Any:
            if type(value) is str and len(value) <= limit and "\x00" not in value:
                return value
            return slow(value)

        return write


class Ltext(_Text):
    """Long text (TEXT)."""

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Text()


class Integer(Field):
    """A 64-bit integer (BIGINT)."""

    kind = "integer"
    lookups = _ORDERED_LOOKUPS

    def sa_type(self) -> TypeEngine[Any]:
        return sa.BigInteger()

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {_type_name(value)}")
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("integer does not fit in 64 bits")
        return int(value)

    def writer(self) -> Callable[[Any], Any]:
        slow = self.to_db

        def write(value: Any) -> Any:
            if type(value) is int and INT64_MIN <= value <= INT64_MAX:
                return value
            return slow(value)

        return write

    def filter_value(self, value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value):
            return value
        return self.convert(value)


class AutoInt(Integer):
    """An auto-increment integer primary key."""

    autoincrement = True

    def __init__(self, *, primary_key: bool = True, **options: Any) -> None:
        if not primary_key:
            raise ModelDefinitionError("AutoInt is only for the primary key (primary_key=True)")
        super().__init__(primary_key=True, **options)

    def sa_type(self) -> TypeEngine[Any]:
        # SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Numeric(Field):
    """An exact decimal with ``precision`` digits, ``scale`` of them after the point (NUMERIC).

    SQLite keeps numerics as floating point, so only about 15 significant digits survive there.
    """

    kind = "numeric"
    lookups = _ORDERED_LOOKUPS

    def __init__(self, precision: int = 18, scale: int = 2, **options: Any) -> None:
        if not (
            isinstance(precision, int) and isinstance(scale, int) and 1 <= precision <= 1000 and 0 <= scale <= precision
        ):
            raise ModelDefinitionError(
                f"Numeric needs 1 <= precision <= 1000 and 0 <= scale <= precision, got ({precision!r}, {scale!r})"
            )
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)
        self._limit = Decimal(10) ** (precision - scale)
        super().__init__(**options)

    def type_args(self) -> str:
        return f"precision={self.precision}, scale={self.scale}"

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Numeric(self.precision, self.scale, asdecimal=True)

    def convert(self, value: Any) -> Any:
        if isinstance(value, bool):
            raise TypeError("expected a number, got bool")
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))  # the shortest repr, not the binary expansion
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                raise ValueError(f"{value[:40]!r} is not a number") from None
        else:
            raise TypeError(f"expected a number, got {_type_name(value)}")
        if not number.is_finite():
            raise ValueError("NaN and infinity cannot be stored")
        with localcontext() as ctx:
            ctx.prec = self.precision + 2
            if number.adjusted() >= self.precision - self.scale:
                raise ValueError(f"{number} does not fit Numeric({self.precision}, {self.scale})")
            number = number.quantize(self._quantum, rounding=ROUND_HALF_UP)  # as PostgreSQL rounds
        if abs(number) >= self._limit:
            raise ValueError(f"{number} does not fit Numeric({self.precision}, {self.scale})")
        return number


class Boolean(Field):
    """True or False (BOOLEAN)."""

    kind = "boolean"
    lookups = frozenset({"eq", "ne", "in", "nin", "isnull"})

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Boolean(create_constraint=False)

    def convert(self, value: Any) -> Any:
        if value is True or value is False:
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        raise TypeError(f"expected True or False, got {value!r:.40}")

    def writer(self) -> Callable[[Any], Any]:
        slow = self.to_db

        def write(value: Any) -> Any:
            if value is True or value is False:
                return value
            return slow(value)

        return write


class Checkbox(Boolean):
    """A checkbox: a Boolean."""


class Datetime(Field):
    """A timezone-aware instant, stored and returned in UTC."""

    kind = "datetime"
    lookups = _ORDERED_LOOKUPS

    def sa_type(self) -> TypeEngine[Any]:
        return UtcDateTime()

    def server_default_value(self) -> Any:
        return None  # no portable literal; the Python default applies on insert

    def convert(self, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.endswith(("Z", "z")):  # fromisoformat accepts "Z" only from Python 3.11
                text = text[:-1] + "+00:00"
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{value[:40]!r} is not an ISO 8601 date-time") from None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {_type_name(value)}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "needs a timezone-aware datetime, e.g. datetime.now(timezone.utc); a naive one is ambiguous"
            )
        return value.astimezone(timezone.utc)


class _JsonField(Field):
    """A JSON value: TEXT on SQLite, JSONB on PostgreSQL.

    Filters support ``isnull`` and ``like`` (on the JSON text). PostgreSQL's jsonb reorders object
    keys, so ``like`` patterns spanning several keys of an object may match differently per engine.
    """

    kind = "json"
    lookups = frozenset({"isnull", "like"})
    orderable = False
    indexable = False
    accepts: ClassVar[tuple[type, ...]] = ()
    expected: ClassVar[str] = ""

    def sa_type(self) -> TypeEngine[Any]:
        return json_column_type()

    def convert(self, value: Any) -> Any:
        if self.accepts and not isinstance(value, self.accepts):
            raise TypeError(f"expected {self.expected}, got {_type_name(value)}")
        try:
            text = _JSON_ENCODE(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"not JSON-serialisable: {exc}") from None
        if "\\u0000" in text:
            raise ValueError("JSON contains a NUL character, which PostgreSQL cannot store")
        return text

    def writer(self) -> Callable[[Any], Any]:
        accepts, slow, encode = self.accepts or (object,), self.to_db, _JSON_ENCODE

        def write(value: Any) -> Any:
            if value is not None and isinstance(value, accepts):
                try:
                    text = encode(value)
                except (TypeError, ValueError):
                    return slow(value)
                if "\\u0000" not in text:
                    return text
            return slow(value)

        return write

    def filter_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text to match against the JSON text, got {_type_name(value)}")
        return value


class JitList(_JsonField):
    """A JSON list."""

    accepts = (list, tuple)
    expected = "a list"


class JitDict(_JsonField):
    """A JSON object."""

    accepts = (dict,)
    expected = "a dict"


class Json(_JsonField):
    """Any JSON value."""


class Secret(_Text):
    """Text stored encrypted with Fernet; decrypted on read, never filterable or orderable."""

    secret = True
    lookups = frozenset()
    orderable = False
    indexable = False

    def __init__(self, **options: Any) -> None:
        if options.get("default", MISSING) not in (MISSING, None):
            raise ModelDefinitionError("a Secret field cannot have a default: secrets do not belong in code")
        super().__init__(**options)

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Text()

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {_type_name(value)}")
        return value
