"""App variables: declared defaults < jitlite.toml ``[variables]`` < the process environment.

Placeholders ``{{name}}`` inside the string values of ``e.json`` and business configs are filled
from them. A placeholder whose variable has no value is a load problem, never a silent "".
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

from pydantic import BaseModel, SecretStr

from .errors import Problem
from .files import FileRefused, read_small_file
from .logredact import is_secret_name, register_secrets
from .names import misspelling_of
from .provided import provided_variable
from .schema import MASK, VariableDecl

__all__ = [
    "PLACEHOLDER",
    "TOML_NAME",
    "EnvVars",
    "LocalSettings",
    "MissingVariable",
    "VariableSet",
    "fill_placeholders",
    "find_secrets",
    "read_toml",
]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TOML_NAME = "jitlite.toml"


@dataclass
class LocalSettings:
    """What an app's git-ignored ``jitlite.toml`` holds."""

    variables: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


_TOML_TABLES = ("variables", "settings")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def read_toml(app_root: Path) -> tuple[LocalSettings, list[Problem]]:
    """Read ``jitlite.toml`` beside app.json: its settings, and a Problem for each mistake in it.

    A missing file gives empty settings. What is wrong in the file (TOML syntax, with line and
    column; a table other than [variables] and [settings]; a variable that is not a plain value)
    is reported; the parts that are right are still returned.
    """
    path = app_root / TOML_NAME
    label = f"app {app_root.name}"
    try:
        text = read_small_file(path).decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        return LocalSettings(), []
    except FileRefused as exc:
        return LocalSettings(), [Problem(label, str(path), exc.message, exc.fix, where=exc.where)]
    except UnicodeDecodeError as exc:
        return LocalSettings(), [Problem(label, str(path), f"is not UTF-8 text (byte {exc.start + 1} is invalid)",
                                         "save the file as UTF-8")]
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        where = f"line {position.group(1)}, column {position.group(2)}" if position else "end of file"
        message = message[:position.start()] if position else message.replace(" (at end of document)", "")
        return LocalSettings(), [Problem(label, str(path), f"invalid TOML: {message}",
                                         "correct the TOML syntax (strings in double quotes, one key = value "
                                         "per line, tables as [variables] and [settings])", where=where)]
    problems = []
    for key in data:
        if key not in _TOML_TABLES:
            meant = misspelling_of(key, _TOML_TABLES)
            fix = f"did you mean [{meant}]?" if meant else "jitlite.toml holds only [variables] and [settings]"
            problems.append(Problem(label, str(path), f"unknown table or key {key!r}", fix, where=key))
    tables = {}
    for name in _TOML_TABLES:
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(Problem(label, str(path), f"{name!r} must be a table", f"write it as [{name}]",
                                    where=name))
            table = {}
        tables[name] = table
    variables = {}
    for name, value in tables["variables"].items():
        if isinstance(value, (str, int, float, bool)):
            variables[name] = _as_text(value)
        else:
            problems.append(Problem(label, str(path), f"variable {name!r} must be a string, a number or true/false",
                                    'write it as name = "value"', where=f"variables.{name}"))
    return LocalSettings(variables=variables, settings=dict(tables["settings"])), problems


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class MissingVariable(Exception):
    """A placeholder names a variable that has no value."""

    def __init__(self, name: str, declared: bool) -> None:
        self.name = name
        self.declared = declared
        super().__init__(name)


class EnvVars(dict[str, str]):
    """An app's variables: a plain dict whose repr and str mask the secret ones.

    Values stay readable (``envVars["X"]``, ``.get``, ``.items()``); only the printed forms mask.
    """

    def __init__(
        self, values: Mapping[str, str], secret_names: Iterable[str] | Callable[[], Iterable[str]] = ()
    ) -> None:
        super().__init__(values)
        # A callable is asked on first need, so reading a value never pays for finding the secrets.
        self._source = secret_names if callable(secret_names) else None
        self._secret_names = None if callable(secret_names) else frozenset(secret_names)

    @property
    def secret_names(self) -> frozenset[str]:
        """Return the names whose values are masked."""
        if self._secret_names is None:
            assert self._source is not None
            self._secret_names = frozenset(self._source())
        return self._secret_names

    def masked(self) -> dict[str, str]:
        """Return a plain dict with every secret value replaced by the mask."""
        return {k: MASK if v and k in self.secret_names else v for k, v in self.items()}

    def copy(self) -> EnvVars:
        """Return a copy that masks the same names."""
        return EnvVars(self, self.secret_names)

    def __repr__(self) -> str:
        return repr(self.masked())

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (EnvVars, (dict(self), tuple(self.secret_names)))


class VariableSet:
    """The merged variables of an app, where each required one is declared, and which are secret.

    A variable is secret when a layer provides it as one (``JITLITE_SECRET_KEY``; see
    ``jitlite.runtime.provided``), when any declaration says
    ``"secret": true``, when its name looks like one (secret, token, password, AES/API/private key…),
    or when ``mark_secret`` was told so (a placeholder in a field the Type declares as a secret).
    Secret values are registered for log redaction.
    """

    def __init__(
        self,
        declarations: Iterable[VariableDecl],
        local: Mapping[str, str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.declared: dict[str, VariableDecl] = {}
        values: dict[str, str] = {}
        for decl in declarations:
            previous = self.declared.get(decl.name)
            # A later (higher-layer) declaration wins, but "required" is sticky.
            required = decl.required or (previous.required if previous else False)
            secret = decl.secret or (previous.secret if previous else False)  # sticky as well
            self.declared[decl.name] = decl.model_copy(update={"required": required, "secret": secret})
            if decl.value is not None:
                values[decl.name] = _as_text(decl.value)
        values.update(local)
        for name in set(self.declared) | set(local):
            if name in environ:
                values[name] = environ[name]
        self._environ = environ
        self.values = values
        self._marked: set[str] = set()
        self._deferred: Callable[[], Iterable[str]] | None = None
        self._deferred_lock = threading.Lock()
        register_secrets(*(v for n, v in values.items() if self.is_secret(n)))

    def is_secret(self, name: str) -> bool:
        """Tell whether a variable's value must be masked wherever it is printed or logged."""
        if self._deferred is not None:
            with self._deferred_lock:  # other threads wait for the marks rather than answer without them
                if self._deferred is not None:
                    self.mark_secret(self._deferred())
                    self._deferred = None
        if name in self._marked or is_secret_name(name):
            return True
        provided = provided_variable(name)
        if provided is not None and provided.secret:
            return True
        decl = self.declared.get(name)
        return decl is not None and decl.secret

    def mark_secret(self, names: Iterable[str]) -> None:
        """Treat these variables as secret from now on (and register their values for redaction)."""
        names = set(names)
        self._marked.update(names)
        register_secrets(*(self.values.get(n) for n in names))

    def mark_secret_later(self, find: Callable[[], Iterable[str]]) -> None:
        """Mark the names find returns as secret, calling it only when a secret is first asked about."""
        self._deferred = find

    def secret_names(self) -> set[str]:
        """Return the names of the variables with a value that are secret."""
        return {n for n in self.values if self.is_secret(n)}

    def env_vars(self) -> EnvVars:
        """Return the merged values as an EnvVars (secret ones masked when printed)."""
        return EnvVars(self.values, self.secret_names)

    def lookup(self, name: str) -> str:
        """Return a variable's value, reading the environment for undeclared names too."""
        if name in self.values:
            return self.values[name]
        if name in self._environ:
            value = self.values[name] = self._environ[name]
            if self.is_secret(name):
                register_secrets(value)
            return value
        raise MissingVariable(name, declared=name in self.declared)

    def missing_required(self) -> list[str]:
        """Return the required variables that have no value."""
        return sorted(n for n, d in self.declared.items() if d.required and not self.values.get(n))


def fill_placeholders(data: Any, variables: VariableSet) -> Any:
    """Return data with every ``{{name}}`` in its strings replaced; raise MissingVariable."""
    if isinstance(data, str):
        if "{{" not in data:
            return data
        return PLACEHOLDER.sub(lambda m: variables.lookup(m.group(1)), data)
    if isinstance(data, dict):
        return {k: fill_placeholders(v, variables) for k, v in data.items()}
    if isinstance(data, list):
        return [fill_placeholders(v, variables) for v in data]
    return data


def find_secrets(model: BaseModel, raw: Any = None) -> tuple[list[str], set[str]]:
    """Return the values of model's SecretStr fields and the variables whose placeholders fill them in raw.

    Nested models, lists and dicts are walked; raw is the data before placeholders were filled.
    """
    values: list[str] = []
    names: set[str] = set()
    _walk_secrets(model, raw, values, names)
    return values, names


def _walk_secrets(value: Any, raw: Any, values: list[str], names: set[str]) -> None:
    if isinstance(value, SecretStr):
        values.append(value.get_secret_value())
        if isinstance(raw, str) and "{{" in raw:
            names.update(PLACEHOLDER.findall(raw))
    elif isinstance(value, BaseModel):
        raw_map = raw if isinstance(raw, Mapping) else {}
        for name, keys in _secret_fields(type(value)):
            key = next((k for k in keys if k in raw_map), None)
            _walk_secrets(getattr(value, name, None), raw_map[key] if key is not None else None, values, names)
    elif isinstance(value, Mapping):
        raw_map = raw if isinstance(raw, Mapping) else {}
        for key, item in value.items():
            _walk_secrets(item, raw_map.get(key), values, names)
    elif isinstance(value, (list, tuple)):
        raw_list = raw if isinstance(raw, list) and len(raw) == len(value) else [None] * len(value)
        for item, raw_item in zip(value, raw_list, strict=True):
            _walk_secrets(item, raw_item, values, names)


_SECRET_FIELDS: dict[type[BaseModel], tuple[tuple[str, tuple[str, ...]], ...]] = {}


def _secret_fields(model: type[BaseModel]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Return (name, raw keys) of the fields of model whose type can hold a SecretStr; cached per class."""
    found = _SECRET_FIELDS.get(model)
    if found is None:
        _SECRET_FIELDS[model] = ()  # a model that refers to itself is walked through its other fields
        found = _SECRET_FIELDS[model] = tuple(
            (name, tuple(k for k in (info.alias, info.validation_alias, name) if isinstance(k, str)))
            for name, info in model.model_fields.items() if _can_hold_secret(info.annotation))
    return found


def _can_hold_secret(annotation: Any) -> bool:
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return True
        if issubclass(annotation, BaseModel):
            return bool(_secret_fields(annotation))
    return any(_can_hold_secret(arg) for arg in get_args(annotation))
