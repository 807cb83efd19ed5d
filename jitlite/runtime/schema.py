"""Building blocks for the pydantic schemas that Types declare for their instances.

A Type's ``schema.py`` defines ``Config`` (the business config, ``<Name>.json``) and may define
``Declaration`` (its instances' ``e.json``, extras included). Both are checked for every instance
when the App is built. ``schema.py`` is loaded on its own at start-up, without the Type's package,
so it must use absolute imports only (``from jitlite.runtime.schema import ...``).
"""

from __future__ import annotations

import re
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
    "AgentId",
    "CallbackToken",
    "ConfigModel",
    "Declaration",
        "EncodingAESKey",
    "HttpUrlStr",
    "NonEmptyStr",
    "Secret",
    "VariableDecl",
    "WeComId",
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
WECOM_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"

NonEmptyStr = Annotated[str, StringConstraints(pattern=NON_EMPTY_PATTERN)]

WeComId = Annotated[str, StringConstraints(pattern=WECOM_ID_PATTERN)]
"""A corp id, suite id or similar WeCom identifier."""


def _agent_id(value: str | int) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise invalid("must be the app's numeric AgentId", "copy the AgentId from the app's page in WeCom")
    return text


AgentId = Annotated[str | int, AfterValidator(_agent_id)]

_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]{43}")


def _encoding_aes_key(value: SecretStr) -> SecretStr:
    key = value.get_secret_value()
    if not _B64_ALPHABET.fullmatch(key):
        raise invalid(
            f"must be exactly 43 characters of the base64 alphabet (A-Z, a-z, 0-9, '+', '/'); "
            f"got {len(key)} characters",
            "copy the EncodingAESKey again from the callback settings in WeCom, or generate a new one there",
        )
    return value


EncodingAESKey = Annotated[SecretStr, AfterValidator(_encoding_aes_key)]


def _non_empty_secret(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise invalid("must not be empty", "set the secret, best through a variable such as \"{{mySecret}}\"")
    return value


Secret = Annotated[SecretStr, AfterValidator(_non_empty_secret)]

_TOKEN_RE = re.compile(r"[A-Za-z0-9]{1,32}")


def _callback_token(value: SecretStr) -> SecretStr:
    if not _TOKEN_RE.fullmatch(value.get_secret_value()):
        raise invalid("must be 1 to 32 letters or digits, as WeCom requires for a callback Token",
                      "copy the Token from the callback settings in WeCom, or generate a new one there")
    return value


CallbackToken = Annotated[SecretStr, AfterValidator(_callback_token)]
"""The Token WeCom signs callbacks with: a secret of up to 32 letters or digits."""
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
