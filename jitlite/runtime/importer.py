"""Import element code by fullName (``from corps.QywxProxyType import QywxProxyCorp``).

Element code lives in layer packages: ``jitlite.types`` for the official elements and
``jitlite._layers.<appId>_<hash>`` for each app folder. The short names users write resolve through
the *active* app's layers, child first, and alias the layer module, so a class has one identity
whichever name imported it. One app is active per process (the last one built or activated).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING

from .layers import LAYER_PACKAGE_PREFIX

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .index import AppIndex

__all__ = ["activate", "active_index", "register_layer"]


class _AliasLoader(importlib.abc.Loader):
    """Hand out an already imported layer module under a short name."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.original_spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system re-points __spec__ at the alias; keep the real one.
        module.__spec__ = self.original_spec


class _ElementFinder(importlib.abc.MetaPathFinder):
    """Find layer packages and the active app's short element names."""

    def __init__(self) -> None:
        self.layer_roots: dict[str, str] = {}
        self.index: AppIndex | None = None
        self.aliases: set[str] = set()
        self.lock = threading.RLock()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        root = self.layer_roots.get(fullname)
        if root is not None:
            layer_spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            layer_spec.submodule_search_locations = [root]
            return layer_spec
        index = self.index
        if index is None or fullname.partition(".")[0] not in index.top_names:
            return None
        return self._short_name_spec(index, fullname)

    def _short_name_spec(self, index: AppIndex, fullname: str) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        for cut in range(len(parts), 0, -1):
            owner = index.visible.get(".".join(parts[:cut]))
            if owner is not None:
                module = importlib.import_module(f"{owner.layer.package}.{fullname}")
                with self.lock:
                    self.aliases.add(fullname)
                return importlib.machinery.ModuleSpec(
                    fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))
        prefix = fullname + "."
        if any(name.startswith(prefix) for name in index.visible):
            # A plain folder above elements (``corps``, ``auths.loginTypes``): a fresh namespace
            # whose children this finder resolves again, each to the layer that defines it.
            namespace = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            namespace.submodule_search_locations = []
            with self.lock:
                self.aliases.add(fullname)
            return namespace
        return None


_finder = _ElementFinder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def register_layer(package: str, root: str) -> None:
    """Make a layer folder importable as its package name."""
    if package.startswith(LAYER_PACKAGE_PREFIX + "."):
        _finder.layer_roots[package] = os.fspath(root)
    _install()


def activate(index: AppIndex) -> None:
    """Make short element names resolve through this app's layers."""
    _install()
    with _finder.lock:
        if _finder.index is index:
            return
        # Forget the previous app's short names; the layer modules themselves stay imported.
        for name in _finder.aliases:
            sys.modules.pop(name, None)
        _finder.aliases.clear()
        _finder.index = index


def active_index() -> AppIndex | None:
    """Return the index of the active app, if any."""
    return _finder.index
