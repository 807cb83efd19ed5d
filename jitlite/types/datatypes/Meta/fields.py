"""JitAi's data types: field declarations for ``model.py`` files, and plain value holders.

In a model, ``datatypes.Stext(name="nick", title="Name")`` declares a field; the model element
turns it into the ``jitlite.storage`` field that stores it (``to_storage_field``). Outside a model a
data type simply carries a value: ``datatypes.Money(value=850.0).value == 850.0``.

Each type takes JitAi's common parameters (name, title, description, placeholder, value, default,
primaryKey, unique, dbIndex, readOnly, …) and its own (Stext's maxLen, Numeric's decimal, …).
Parameters that only matter to JitAi's pages (placeholder, unit, dateTimeFormat, …) are kept in
``options`` and change nothing here. A parameter one edit away from a known one is taken for a
misspelling and refused, so ``primarykey=True`` never passes silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from jitlite.runtime import clock
from jitlite.runtime.names import misspelling_of, suggest
from jitlite.storage import fields as storage
from jitlite.storage.errors import ModelDefinitionError

__all__ = ["DATATYPES", "UNSUPPORTED", "DataType", "DataTypes", "datatypes"]

#: The parameters every data type takes.
COMMON_PARAMS = frozenset({
    "name", "title", "parentDt", "description", "placeholder", "value", "default", "dbIndex", "primaryKey",
    "unique", "readOnly", "isExtend", "formula", "isAllowScan",
})


class DataType:
    """A JitAi data type: a model field declaration, and a holder of a ``value``."""

    typeName: ClassVar[str] = "DataType"
    #: The parameters of this type beyond COMMON_PARAMS (a subclass adds to its parents').
    ownParams: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, value: Any = None, **options: Any) -> None:
        self.value = value
        self.options = options

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.typeName = cls.__name__

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.options.items() if k in ("name", "title"))
        return f"datatypes.{self.typeName}({shown})"

    @property
    def name(self) -> str | None:
        """Return the ``name`` parameter (a model field's name), if given."""
        value = self.options.get("name")
        return value if isinstance(value, str) else None

    @property
    def title(self) -> str | None:
        """Return the ``title`` parameter, if given."""
        value = self.options.get("title")
        return value if isinstance(value, str) else None

    @classmethod
    def knownParams(cls) -> frozenset[str]:
        """Return every parameter this type understands."""
        known = set(COMMON_PARAMS)
        for klass in cls.__mro__:
            known |= getattr(klass, "ownParams", frozenset())
        return frozenset(known)

    # -- as a model field --------------------------------------------------------------------------

    def to_storage_field(self, attribute: str) -> storage.Field:
        """Return the storage field that keeps this declaration's values; raise ModelDefinitionError."""
        known = self.knownParams()
        for key in self.options:
            meant = misspelling_of(key, known)
            if meant is not None:
                raise ModelDefinitionError(
                    f"datatypes.{self.typeName} has no parameter {key!r}; did you mean {meant!r}?")
        name = self.options.get("name", attribute)
        if name != attribute:
            raise ModelDefinitionError(
                f"name={name!r} differs from the attribute it is assigned to; write name={attribute!r} "
                "(JitAi needs the two equal)")
        if self.options.get("formula"):
            raise ModelDefinitionError(
                "formula fields are computed by JitAi and jitlite cannot evaluate them; compute the value in "
                "your code and store it in a plain field, or drop the field")
        common: dict[str, Any] = {
            "title": self.title,
            "primary_key": self.flag("primaryKey"),
            "unique": self.flag("unique"),
            "index": self.flag("dbIndex"),
        }
        if "default" in self.options and self.value is not None:
            raise ModelDefinitionError("give the initial value once: default=… or value=…, not both")
        default = self.options.get("default", self.value)
        if default is not None:
            common["default"] = default
        return self.make_field(common, attribute)

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        """Return the storage field of this type, built with the common keyword arguments."""
        raise ModelDefinitionError(f"datatypes.{self.typeName} cannot be a model field")

    # -- parameter checks --------------------------------------------------------------------------

    def flag(self, key: str, default: bool = False) -> bool:
        """Return a yes/no parameter, which JitAi writes as True/False or 1/0."""
        value = self.options.get(key, default)
        if value is None:
            return default
        if value in (0, 1) and isinstance(value, (bool, int)):
            return bool(value)
        raise ModelDefinitionError(f"{key} must be True or False (or 1 or 0), got {value!r:.40}")

    def number(self, key: str, default: int, low: int, high: int) -> int:
        """Return an integer parameter within [low, high]."""
        value = self.options.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelDefinitionError(f"{key} must be an integer from {low} to {high}, got {value!r:.40}")
        return value

    def text(self, key: str, default: str) -> str:
        """Return a text parameter."""
        value = self.options.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ModelDefinitionError(f"{key} must be text, got {value!r:.40}")
        return value


# --- text -----------------------------------------------------------------------------------------


class Stext(DataType):
    """Single-line text: at most ``maxLen`` characters (255); with ``limit``, at least ``minLen``."""

    ownParams = frozenset({"limit", "maxLen", "minLen"})
    defaultMaxLen: ClassVar[int] = 255

    def lengths(self) -> tuple[int, int]:
        """Return (maxLen, minLen) as checked on write."""
        max_len = self.number("maxLen", self.defaultMaxLen, 1, 10_485_760)
        min_len = self.number("minLen", 0, 0, max_len) if self.flag("limit") else 0
        return max_len, min_len

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        max_len, min_len = self.lengths()
        return storage.Stext(max_length=max_len, min_length=min_len, **common)


class Ltext(DataType):
    """Multi-line text; with ``limit``, between ``minLen`` and ``maxLen`` (1024) characters."""

    ownParams = frozenset({"limit", "maxLen", "minLen"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        if not self.flag("limit"):
            self.number("maxLen", 1024, 1, 1 << 30)
            return storage.Ltext(**common)
        max_len = self.number("maxLen", 1024, 1, 1 << 30)
        return storage.Ltext(max_length=max_len, min_length=self.number("minLen", 0, 0, max_len), **common)


class RichText(Ltext):
    """Rich text (HTML), kept as long text."""

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.Ltext(**common)


class Identify(Stext):
    """An ID card number, kept as text."""


class LicensePlate(Stext):
    """A licence plate number: text of at most 12 characters."""

    defaultMaxLen = 12


class Phone(Stext):
    """A phone number checked by ``rules``: eleven (default), eight, tel or mobileOrTel."""

    ownParams = frozenset({"rules"})
    defaultMaxLen = 32

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        rules = self.text("rules", "eleven")
        if rules not in storage.PHONE_RULES:
            raise ModelDefinitionError(f"rules must be one of {', '.join(storage.PHONE_RULES)}, got {rules!r}")
        max_len, min_len = self.lengths()
        return storage.Phone(max_len, rules=rules, min_length=min_len, **common)


class Email(Stext):
    """An email address (name@domain.tld)."""

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        max_len, min_len = self.lengths()
        return storage.Email(max_length=max_len, min_length=min_len, **common)


class Radio(Stext):
    """One choice among ``options`` ([{"label", "value"}]); the value stored is the option's value."""

    ownParams = frozenset({"color", "options", "selectionWay", "allowManualInput", "mulLevelSelectionConfig"})

    def choices(self) -> list[str] | None:
        """Return the values allowed, or None when any text is (manual input, or options from a table)."""
        options = self.options.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, Mapping) and "value" in o for o in options):
            raise ModelDefinitionError('options must be a list of {"label": …, "value": …} objects')
        values = [o["value"] for o in options]
        if not all(isinstance(v, str) for v in values):
            raise ModelDefinitionError(f"option values must be text, got {values!r:.100}")
        custom = self.text("selectionWay", "custom") == "custom"
        return values if values and custom and not self.flag("allowManualInput") else None

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        max_len, min_len = self.lengths()
        return storage.Stext(max_length=max_len, min_length=min_len, choices=self.choices(), **common)


class Dropdown(Radio):
    """One choice from a drop-down list of ``options``."""


class MultiRadio(Radio):
    """Several choices among ``options``, kept as a JSON list of their values."""

    ownParams = frozenset({"maxCount"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        self.choices()
        return storage.JitList(**common)


class MultiDropdown(MultiRadio):
    """Several choices from a drop-down list of ``options``."""

    ownParams = frozenset({"limit"})


# --- numbers --------------------------------------------------------------------------------------


class Numeric(DataType):
    """A decimal number: ``maxDigits`` digits (18), ``decimal`` of them after the point (0)."""

    ownParams = frozenset({"unit", "decimal", "maxDigits"})
    defaultDecimal: ClassVar[int] = 0
    extraDecimal: ClassVar[int] = 0

    def precision(self) -> tuple[int, int]:
        """Return (precision, scale) of the column."""
        digits = self.number("maxDigits", 18, 1, 1000)
        decimal = self.number("decimal", self.defaultDecimal, 0, digits) + self.extraDecimal
        return max(digits, decimal), decimal

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        precision, scale = self.precision()
        return storage.Numeric(precision, scale, **common)


class Money(Numeric):
    """An amount of money: two decimals unless ``decimal`` says otherwise."""

    defaultDecimal = 2

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        precision, scale = self.precision()
        return storage.Money(precision, scale, **common)


class Percent(Numeric):
    """A percentage, kept as given with ``decimal`` + 2 decimals."""

    extraDecimal = 2


class Integer(DataType):
    """A 64-bit integer."""

    ownParams = frozenset({"unit"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.Integer(**common)


class AutoInt(Numeric):
    """The auto-increment primary key (``id = datatypes.AutoInt(name="id", primaryKey=True)``)."""

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        if "primaryKey" in self.options and not common["primary_key"]:
            raise ModelDefinitionError("AutoInt is the auto-increment primary key: set primaryKey=True, or use "
                                       "datatypes.Integer for a plain number")
        if "default" in common:
            raise ModelDefinitionError("AutoInt values are assigned by the database: drop default / value")
        return storage.AutoInt(title=common["title"])


# --- choices and dates ----------------------------------------------------------------------------


class Checkbox(DataType):
    """A checkbox: True or False (JitAi's 1 or 0); unchecked by default."""

    ownParams = frozenset({"isEnableDescription", "checkboxDescription"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        common.setdefault("default", False)
        return storage.Checkbox(**common)


def _local_today() -> date:
    return datetime.fromtimestamp(clock.now()).date()


class Date(DataType):
    """A calendar date ("YYYY-MM-DD"); ``createDefault`` / ``updateDefault`` fill in today (local time)."""

    ownParams = frozenset({"dateTimeType", "dateTimeFormat", "createDefault", "updateDefault", "autoAssign"})

    def stamps(self, attribute: str) -> tuple[bool, bool]:
        """Return whether the field is filled on insert and refreshed on update."""
        return self.flag("createDefault"), self.flag("updateDefault")

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.Date(**self.stamped(common, attribute, _local_today))

    def stamped(self, common: dict[str, Any], attribute: str, now: Callable[[], Any]) -> dict[str, Any]:
        """Return ``common`` with the insert default and update stamp the flags ask for."""
        create, update = self.stamps(attribute)
        if create and "default" not in common:
            common["default"] = now
        if update:
            common["on_update"] = now
        return common


class Datetime(Date):
    """An instant, kept in UTC; ``createDefault`` / ``updateDefault`` fill in the current time.

    Fields named ``createdAt`` and ``updatedAt`` (the ones JitAi's models always carry) are filled
    in on insert, and ``updatedAt`` on every update too, unless their flags say otherwise.
    """

    ownParams = frozenset({"formatDate", "formatTime"})

    def stamps(self, attribute: str) -> tuple[bool, bool]:
        create = self.flag("createDefault", attribute in ("createdAt", "updatedAt"))
        return create, self.flag("updateDefault", attribute == "updatedAt")

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.Datetime(**self.stamped(common, attribute, storage.utc_now))


# --- containers -----------------------------------------------------------------------------------


class JitDict(DataType):
    """A JSON object."""

    ownParams = frozenset({"variableList"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.JitDict(**common)


class Address(JitDict):
    """An address: a JSON object such as {"province", "city", "district", "detail"}."""

    ownParams = frozenset({"addressFormat", "detail"})


class Position(Address):
    """A location: an address with coordinates, as a JSON object."""

    ownParams = frozenset({"adjustRange", "adjustment", "limitPositionRange", "showPc", "saveLimitPosition"})


class Link(JitDict):
    """A hyperlink, as a JSON object."""


class JitList(DataType):
    """A JSON list."""

    ownParams = frozenset({"variableConfig", "generic"})

    def make_field(self, common: dict[str, Any], attribute: str) -> storage.Field:
        return storage.JitList(**common)


DATATYPES: dict[str, type[DataType]] = {
    cls.__name__: cls
    for cls in (Stext, Ltext, RichText, Identify, LicensePlate, Phone, Email, Radio, Dropdown, MultiRadio,
                MultiDropdown, Numeric, Money, Percent, Integer, AutoInt, Checkbox, Date, Datetime, JitDict,
                Address, Position, Link, JitList)
}

#: JitAi data types jitlite does not store, with what to use instead.
UNSUPPORTED: dict[str, str] = {
    "Serial": "use datatypes.Stext and set the number in your code when you create the row",
    "Time": 'use datatypes.Stext holding "HH:MM:SS"',
    "File": "keep the file references in a datatypes.JitList",
    "Image": "keep the image references in a datatypes.JitList",
    "Signature": "keep the signature image reference in a datatypes.Stext",
    "Dept": "keep the department id in a datatypes.Stext",
    "MultiDept": "keep the department ids in a datatypes.JitList",
    "Member": "keep the member's user id in a datatypes.Stext",
    "MultiMember": "keep the members' user ids in a datatypes.JitList",
    "SubTable": "use a separate model whose rows carry this row's id",
    "RelateData": "keep the related row's id in a datatypes.Integer",
    "MultiRelateData": "keep the related rows' ids in a datatypes.JitList",
    "RowData": "it is not a field type: use a datatypes.JitDict",
    "RowList": "it is not a field type: use a datatypes.JitList",
    "JitMap": "it is not a field type: use a datatypes.JitDict",
    "QFilter": "it is not a field type: keep the filter text in a datatypes.Ltext",
}


class _Refused(DataType):
    """A data type name jitlite cannot store; the model that uses it reports why, naming the field."""

    reason: ClassVar[str] = ""

    def __init__(self, value: Any = None, **options: Any) -> None:
        self._value = value
        self.options = options

    @property
    def value(self) -> Any:
        """Refuse to act as a value: the type is unknown or unsupported."""
        raise ModelDefinitionError(self.reason)

    def to_storage_field(self, attribute: str) -> storage.Field:
        raise ModelDefinitionError(self.reason)


def _refused(name: str) -> type[_Refused]:
    if name in UNSUPPORTED:
        reason = f"datatypes.{name} is a JitAi data type jitlite does not support: {UNSUPPORTED[name]}"
    else:
        close = suggest(name, [*DATATYPES, *UNSUPPORTED])
        hint = f"did you mean {' or '.join('datatypes.' + c for c in close)}?" if close else (
            f"the data types are {', '.join(sorted(DATATYPES))}")
        reason = f"datatypes.{name} is not a JitAi data type: {hint}"
    return type(name, (_Refused,), {"reason": reason, "__module__": __name__})


class DataTypes:
    """The ``datatypes`` namespace: ``datatypes.Stext``, ``datatypes.Money``, …

    An unknown or unsupported name still gives a type, so the model file loads far enough for the
    model to report the problem with the element, file and field it is in.
    """

    def __init__(self, types: Mapping[str, type[DataType]]) -> None:
        self._types = dict(types)
        self._refused: dict[str, type[_Refused]] = {}

    def __getattr__(self, name: str) -> type[DataType]:
        if name.startswith("_"):
            raise AttributeError(name)
        found = self._types.get(name)
        if found is not None:
            return found
        refused = self._refused.get(name)
        if refused is None:
            refused = self._refused[name] = _refused(name)
        return refused

    def has(self, name: str) -> bool:
        """Tell whether ``name`` is a data type jitlite supports."""
        return name in self._types

    def problem(self, name: str) -> str:
        """Return why ``name`` is not a data type jitlite supports, with the fix."""
        return _refused(name).reason

    def __dir__(self) -> list[str]:
        return sorted(self._types)

    def __repr__(self) -> str:
        return "<datatypes: " + ", ".join(sorted(self._types)) + ">"


datatypes = DataTypes(DATATYPES)
