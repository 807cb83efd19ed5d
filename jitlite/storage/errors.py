"""Errors raised by the storage library.

Exception tree::

    JitliteError
    └── StorageError
        ├── ModelDefinitionError   a model class declares something impossible
        ├── UnknownFieldError      (also LookupError) a field name the model does not have
        ├── FieldValueError        (also ValueError) a value a field cannot store
        ├── FilterError            (also ValueError) a filter that is malformed or not allowed
        ├── QueryError             (also ValueError) a malformed fieldList, orderList, page, size or batch
        ├── ConstraintError        the database refused a write (duplicate key, NOT NULL, …)
        ├── AmbiguousFilterError   a filter meant to pick one row matched several
        ├── SchemaError            the database table cannot be migrated to the model safely
        └── SecretKeyError         a Secret field has no usable key, or a stored secret cannot be read
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ..runtime.errors import JitliteError

__all__ = [
    "AmbiguousFilterError",
    "ConstraintError",
    "FieldValueError",
    "FilterError",
    "ModelDefinitionError",
    "QueryError",
    "SchemaError",
    "SecretKeyError",
    "StorageError",
    "UnknownFieldError",
    "did_you_mean",
    "filter_error_from_database",
]


class StorageError(JitliteError):
    """Base class of the storage library's errors."""


class ModelDefinitionError(StorageError):
    """A model class declares fields, keys or indexes that cannot work."""


class UnknownFieldError(StorageError, LookupError):
    """A row, field list or order list names a field the model does not have."""

    def __init__(self, model: str, field: str, known: Iterable[str], where: str = "") -> None:
        self.model = model
        self.field = field
        place = f" (in {where})" if where else ""
        super().__init__(f"model {model} has no field {field!r}{place}{did_you_mean(field, known)}")

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class FieldValueError(StorageError, ValueError):
    """A value that a field cannot store (wrong type, too long, missing, out of range)."""


class FilterError(StorageError, ValueError):
    """A filter that is malformed, names unknown fields, uses what is not allowed, or is too large to run."""


class QueryError(StorageError, ValueError):
    """A malformed query argument: fieldList, orderList, page, size, uniqueFields or batchSize."""


class ConstraintError(StorageError):
    """The database refused a write: a duplicate unique key, a missing required value, …"""


class AmbiguousFilterError(StorageError):
    """A filter that must identify at most one row matched several."""


class SchemaError(StorageError):
    """The existing table differs from the model in a way that jitlite will not change by itself."""


class SecretKeyError(StorageError):
    """No usable Fernet key for Secret fields, or a stored secret that none of the keys can decrypt."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return a "; did you mean …?" suffix naming the closest known names, or ""."""
    choices = list(known)
    by_case = {c.lower(): c for c in choices}
    matches = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if name.lower() in by_case and by_case[name.lower()] not in matches:
        matches.insert(0, by_case[name.lower()])
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"


# The refusals a database gives for a filter too large or too deep to evaluate, recognised by a
# fragment of the driver's message, with what to tell the user instead.
_FILTER_REFUSALS = (
    ("Expression tree is too large", "SQLite cannot evaluate a filter this large (its expression depth limit is 1000)"),
    ("parser stack overflow", "SQLite cannot evaluate a filter nested this deep"),
    ("too many SQL variables", "SQLite cannot bind this many values in one statement"),
    ("number of parameters must be between", "PostgreSQL cannot bind more than 65535 values in one statement"),
    ("stack depth limit exceeded", "PostgreSQL cannot evaluate a filter nested this deep"),
)


def filter_error_from_database(error: BaseException, model: str) -> FilterError | None:
    """Return the FilterError for a database's refusal of a filter too large to run, or None.

    The message names the model, the limit and the fix, never the SQL statement or its values.
    """
    cause = getattr(error, "orig", None) or error  # the driver's own error, without SQLAlchemy's SQL echo
    text = str(cause)
    for fragment, problem in _FILTER_REFUSALS:
        if fragment in text:
            return FilterError(
                f"invalid filter on {model}: {problem}. Use fewer terms or values — compare one field "
                "with many values through field__in=[...] — or split the query"
            )
    return None
