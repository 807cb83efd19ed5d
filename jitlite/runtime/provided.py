"""Variables that layers built on the runtime provide and check (``JITLITE_SECRET_KEY``, from storage).

The runtime knows no variable by name. A layer that needs one registers a ``ProvidedVariable``
when it is imported (``jitlite`` imports ``jitlite.storage.secrets``, which registers the at-rest
key); every App built afterwards then:

- masks the variable's value wherever it is printed or logged (``secret``);
- fills it from a file when the app's settings name one and neither the environment nor
  ``jitlite.toml`` sets it (``file_setting`` and ``read_file``: ``settings.secretKeyFile``);
- checks its value at start-up (``problem``), so a bad value fails ``App()``, not a later call;
- names how to make a good value in the problem of a required one that has none (``how``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .settings import register_setting

__all__ = ["ProvidedVariable", "provided_variable", "provided_variables", "register_provided_variable"]


@dataclass(frozen=True)
class ProvidedVariable:
    """One variable a layer provides: where its value may come from and how it is checked."""

    name: str
    #: Mask the value in reprs, ``jitlite show``, errors and log records.
    secret: bool = True
    #: A setting naming a file, relative to the app folder, that keeps the value.
    file_setting: str | None = None
    #: Return the value kept in that file, creating the file if it is missing; raise OSError or FileRefused.
    read_file: Callable[[Path], str] | None = None
    #: Return why a value is unusable, or None; the message must never quote the value.
    problem: Callable[[str], str | None] | None = None
    #: How to make a usable value ("make a key with `jitlite keygen`").
    how: str = ""
    #: The fix of a problem with the value.
    fix: str = ""


_PROVIDED: dict[str, ProvidedVariable] = {}


def register_provided_variable(variable: ProvidedVariable, *, setting_description: str = "") -> None:
    """Make every App built from now on provide and check this variable (and know its file setting)."""
    if variable.file_setting is not None:
        register_setting(variable.file_setting, (str,), setting_description or
                         f"keep a generated {variable.name} in this file (relative to the app folder) when none is set")
    _PROVIDED[variable.name] = variable


def provided_variable(name: str) -> ProvidedVariable | None:
    """Return the registration of a provided variable, or None."""
    return _PROVIDED.get(name)


def provided_variables() -> list[ProvidedVariable]:
    """Return every provided variable, in the order they were registered."""
    return list(_PROVIDED.values())
