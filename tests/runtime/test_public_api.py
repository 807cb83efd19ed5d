"""Every module's __all__ names things that exist, and the package exports its public names."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import jitlite
import jitlite.runtime

MODULES = [
    "jitlite", "jitlite.runtime", "jitlite.meta", "jitlite.cli",
    *(f"jitlite.runtime.{m.name}" for m in pkgutil.iter_modules(jitlite.runtime.__path__)),
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


def test_package_exports_every_public_error_and_class() -> None:
    assert set(jitlite.runtime.errors.__all__) <= set(jitlite.__all__)
    assert {"App", "Element"} <= set(jitlite.__all__)
