"""jitlite's data types as field declarations, each mapped to a portable SQL column."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from ..runtime import clock
from .errors import ModelDefinitionError

__all__ = [
    "ALL_LOOKUPS",
    "DATE_PART_LOOKUPS",
    "PATTERN_LOOKUPS",
    "PHONE_RULES",
    "TEXT_LOOKUPS",
    "AutoInt",
    "Boolean",
    "Checkbox",
    "Date",
    "Datetime",
    "Email",
    "Field",
    "Integer",
    "JitDict",
    "JitList",
    "Json",
    "Ltext",
    "Money",
    "Numeric",
    "Phone",
    "Secret",
    "Stext",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_ORDERED_LOOKUPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "isnull", "range"})
#: Text matching: like / nlike take a LIKE pattern (contains, when it has no %); likeany / nlikeany a list of them.
PATTERN_LOOKUPS = frozenset({"like", "nlike", "likeany", "nlikeany", "startswith", "endswith"})
#: Parts of a date or a date-time (UTC) compared with an integer.
DATE_PART_LOOKUPS = frozenset({"year", "month", "day"})
TEXT_LOOKUPS = _ORDERED_LOOKUPS | PATTERN_LOOKUPS
ALL_LOOKUPS = TEXT_LOOKUPS | DATE_PART_LOOKUPS


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
    lookups: ClassVar[frozenset[str]] = TEXT_LOOKUPS
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
        on_update: Callable[[], Any] | None = None,
    ) -> None:
        self.name = ""
        self.title = title
        # A value written on every update that changes the row (an "updatedAt" time), unless given.
        if on_update is not None and not callable(on_update):
            raise ModelDefinitionError(f"{type(self).__name__}: on_update must be a function returning the value")
        self.on_update = on_update
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
    """Text; ``min_length`` and ``choices`` (the only values allowed) are checked on write."""

    kind = "text"

    def __init__(
        self, *, min_length: int = 0, choices: Sequence[str] | None = None, **options: Any
    ) -> None:
        if not isinstance(min_length, int) or isinstance(min_length, bool) or min_length < 0:
            raise ModelDefinitionError(f"{type(self).__name__} min_length must be an int >= 0, got {min_length!r}")
        if choices is not None and (isinstance(choices, str) or not all(isinstance(c, str) for c in choices)):
            raise ModelDefinitionError(f"{type(self).__name__} choices must be a list of strings, got {choices!r:.100}")
        self.min_length = min_length
        self.choices: frozenset[str] | None = None if choices is None else frozenset(choices)
        super().__init__(**options)

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {_type_name(value)}")
        if "\x00" in value:
            raise ValueError("text contains a NUL character, which PostgreSQL cannot store")
        if len(value) < self.min_length:
            raise ValueError(f"text is {len(value)} characters long; the field needs at least {self.min_length}")
        if self.choices is not None and value not in self.choices:
            shown = ", ".join(repr(c) for c in sorted(self.choices)[:10])
            raise ValueError(f"{value[:40]!r} is not one of the options ({shown})")
        return value

    def filter_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected text, got {_type_name(value)}")
        return value

    def _plain(self) -> bool:
        """Tell whether a value needs no check beyond type, length and NUL (the writers' fast path)."""
        return not self.min_length and self.choices is None and type(self).convert in (_Text.convert, Stext.convert)


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
        if not self._plain():
            return slow

        def write(value: Any) -> Any:
            if type(value) is str and len(value) <= limit and "\x00" not in value:
                return value
            return slow(value)

        return write


class Ltext(_Text):
    """Long text (TEXT); ``max_length``, when given, is checked on write (the column has no limit)."""

    def __init__(self, *, max_length: int | None = None, **options: Any) -> None:
        bad = isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        if max_length is not None and bad:
            raise ModelDefinitionError(f"Ltext max_length must be None or an int >= 1, got {max_length!r}")
        self.max_length = max_length
        super().__init__(**options)

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Text()

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"text is {len(value)} characters long; the field allows {self.max_length}")
        return value


# China's phone number forms, by JitAi's names for them.
_MOBILE = r"1\d{10}"
_LANDLINE = r"(?:0\d{2,3}-?)?[1-9]\d{6,7}(?:-\d{1,6})?"
PHONE_RULES: dict[str, re.Pattern[str]] = {
    "eleven": re.compile(r"\d{11}"),
    "eight": re.compile(r"\d{8,11}"),
    "tel": re.compile(_LANDLINE),
    "mobileOrTel": re.compile(f"{_MOBILE}|{_LANDLINE}"),
}
_RULE_WORDS = {
    "eleven": "11 digits",
    "eight": "8 to 11 digits",
    "tel": "a landline number such as 010-12345678",
    "mobileOrTel": "a mobile number (11 digits starting with 1) or a landline number such as 010-12345678",
}


class Phone(Stext):
    """A phone number checked against ``rules``: eleven (11 digits, the default), eight, tel, mobileOrTel."""

    def __init__(self, max_length: int = 32, *, rules: str = "eleven", **options: Any) -> None:
        if rules not in PHONE_RULES:
            raise ModelDefinitionError(f"Phone rules must be one of {', '.join(PHONE_RULES)}, got {rules!r}")
        self.rules = rules
        super().__init__(max_length, **options)

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if not PHONE_RULES[self.rules].fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not a phone number: expected {_RULE_WORDS[self.rules]}")
        return value


_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")


class Email(Stext):
    """An email address (name@domain.tld), at most ``max_length`` characters."""

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value[:40]!r} is not an email address (name@example.com)")
        return value


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


class Money(Numeric):
    """An amount of money: a Numeric with two decimals unless told otherwise."""

    def __init__(self, precision: int = 18, scale: int = 2, **options: Any) -> None:
        super().__init__(precision, scale, **options)


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


class Date(Field):
    """A calendar date (DATE): a ``datetime.date`` or an ISO 8601 "YYYY-MM-DD" string."""

    kind = "date"
    lookups = _ORDERED_LOOKUPS | DATE_PART_LOOKUPS

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Date()

    def server_default_value(self) -> Any:
        return None  # no portable literal; the Python default applies on insert

    def convert(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value[:40]!r} is not an ISO 8601 date (YYYY-MM-DD)") from None
        if isinstance(value, datetime):
            raise TypeError("expected a date, got a datetime; pass its .date() (in the timezone you mean)")
        if not isinstance(value, date):
            raise TypeError(f"expected a date, got {_type_name(value)}")
        return value


class Datetime(Field):
    """A timezone-aware instant, stored and returned in UTC."""

    kind = "datetime"
    lookups = _ORDERED_LOOKUPS | DATE_PART_LOOKUPS

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

    Filters support ``isnull``, ``like`` and ``nlike`` (on the JSON text). PostgreSQL's jsonb reorders object
    keys, so ``like`` patterns spanning several keys of an object may match differently per engine.
    """

    kind = "json"
    lookups = frozenset({"isnull", "like", "nlike"})
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
    """Text stored encrypted (AES-256-GCM-SIV, see ``SecretBox``); decrypted on read, never filterable or orderable."""

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
