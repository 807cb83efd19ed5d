"""Building blocks for the pydantic schemas that Types declare for their instances.

A Type's ``schema.py`` defines ``Config`` (the business config, ``<Name>.json``) and may define
``Declaration`` (its instances' ``e.json``, extras included). Both are checked for every instance
when the App is built. ``schema.py`` is loaded on its own at start-up, without the Type's package,
so it must use absolute imports only (``from jitlite.runtime.schema import ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from .names import FULL_NAME_PATTERN

__all__ = [
    "MASK",
    "NON_EMPTY_PATTERN",
    "ConfigModel",
    "Declaration",
    "HttpUrlStr",
    "NonEmptyStr",
    "Secret",
    "VariableDecl",
    "invalid",
    "masked_dump",
    "refers_to",
]

MASK = "******"


def invalid(message: str, fix: str) -> PydanticCustomError:
    """Return a validation error whose report carries a fix."""
    return PydanticCustomError("jitlite_invalid", message, {"fix": fix})


# Plain checks are native pydantic patterns (fast at start-up); reporting.PATTERN_HINTS words them.
NON_EMPTY_PATTERN = r"\S"

NonEmptyStr = Annotated[str, StringConstraints(pattern=NON_EMPTY_PATTERN)]


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise invalid("must not be empty", "set the secret, best through a variable such as \"{{mySecret}}\"")
    return value


Secret = Annotated[SecretStr, AfterValidator(_non_empty_secret)]
"""A non-empty secret: masked in reprs, ``authConfig`` and ``jitlite show``."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("must be an absolute http(s) URL", "write it as https://your-domain.example/path")
    return value


HttpUrlStr = Annotated[str, AfterValidator(_http_url)]


def refers_to(type_name: str | None = None) -> Callable[[str, ValidationInfo], str]:
    """Return a validator checking that a fullName names an element (of ``type_name``, if given).

    Use it as ``Annotated[str, AfterValidator(refers_to("auths.loginTypes.QywxProxyType"))]``.
    The check runs when the app builds its index; outside an app only the syntax is checked.
    """

    def check(value: str, info: ValidationInfo) -> str:
        if not FULL_NAME_PATTERN.fullmatch(value):
            raise invalid(f"{value!r} is not an element fullName", "write it as dotted names, e.g. auths.MyLogin")
        context = info.context or {}
        type_chain = context.get("type_chain")
        if type_chain is None:
            return value
        chain = type_chain(value)
        if chain is None:
            hint = context["suggest"](value) if "suggest" in context else []
            fix = f"did you mean {' or '.join(hint)}?" if hint else "create that element or correct the name"
            raise invalid(f"refers to {value!r}, which is not an element of this app", fix)
        if type_name and type_name not in chain:
            raise invalid(
                f"refers to {value!r}, whose type is {chain[0] if chain else 'none'}, not {type_name}",
                f"name an instance of {type_name}",
            )
        return value

    return check


class ConfigModel(BaseModel):
    """Base of business-config schemas: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)


class VariableDecl(BaseModel):
    """One entry of ``variables`` in app.json or e.json."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    title: str = ""
    value: str | int | float | bool | None = None
    required: bool = False
    #: Mask the value in ``app.envVars``' repr, ``jitlite show`` and errors, and in every log record.
    secret: bool = False


class Declaration(BaseModel):
    """An element's ``e.json``. Unknown keys are kept and exposed."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    title: NonEmptyStr
    type: str
    description: str | None = None
    icon: str | None = None
    tag: str | list[str] | None = None
    backendBundleEntry: str | None = None
    frontBundleEntry: str | None = None
    variables: list[VariableDecl] = Field(default_factory=list)
    accessModifier: Literal["public", "protected", "private"] = "public"
    functionList: list[Any] = Field(default_factory=list)
    version: str | None = None
    className: str | None = None
    isType: bool = False
    #: On a Type or Meta: its instances must bring their own class (``className``, or a class
    #: exported by their ``__init__.py`` under the folder's name), as services and models do.
    requiresInstanceClass: bool = False


def masked_dump(model: BaseModel, *, exclude_unset: bool = False) -> dict[str, Any]:
    """Dump a model to plain values with every secret replaced by MASK."""
    dumped: dict[str, Any] = _mask(model.model_dump(exclude_unset=exclude_unset))
    return dumped


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value
