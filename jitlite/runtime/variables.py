"""App variables: declared defaults < jitlite.toml ``[variables]`` < the process environment.

Placeholders ``{{name}}`` inside the string values of ``e.json`` and business configs are filled
from them. A placeholder whose variable has no value is a load problem, never a silent "".
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

from .schema import VariableDecl

__all__ = [
    "PLACEHOLDER",
    "SECRET_KEY_VARIABLE",
    "LocalSettings",
    "MissingVariable",
    "VariableSet",
    "fill_placeholders",
    "key_from_file",
    "read_toml",
]

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TOML_NAME = "jitlite.toml"
SECRET_KEY_VARIABLE = "JITLITE_SECRET_KEY"


@dataclass
class LocalSettings:
    """What an app's git-ignored ``jitlite.toml`` holds."""

    variables: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def read_toml(app_root: Path) -> LocalSettings:
    """Read ``jitlite.toml`` beside app.json; a missing file gives empty settings."""
    path = app_root / TOML_NAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LocalSettings()
    variables = {str(k): _as_text(v) for k, v in data.get("variables", {}).items()}
    settings = dict(data.get("settings", {}))
    return LocalSettings(variables=variables, settings=settings)


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


class VariableSet:
    """The merged variables of an app, and where each required one is declared."""

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
            self.declared[decl.name] = decl.model_copy(update={"required": required})
            if decl.value is not None:
                values[decl.name] = _as_text(decl.value)
        values.update(local)
        for name in set(self.declared) | set(local):
            if name in environ:
                values[name] = environ[name]
        self._environ = environ
        self.values = values

    def lookup(self, name: str) -> str:
        """Return a variable's value, reading the environment for undeclared names too."""
        if name in self.values:
            return self.values[name]
        if name in self._environ:
            self.values[name] = self._environ[name]
            return self.values[name]
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


def key_from_file(path: Path) -> str:
    """Return the Fernet key kept in path, creating the file (readable by its owner only) if missing."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: if another process created it meanwhile, use theirs rather than overwrite it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
