"""Import element code by fullName (``from corps.QywxProxyType import QywxProxyCorp``).

Element code lives in layer packages: ``jitlite.types`` for the official elements and
``jitlite._layers.<appId>_<hash>`` for each app folder. Each app also gets a *view*,
``jitlite._views.<key>``, whose submodules are the app's fullNames resolved child first through its
layers (``jitlite._views.app1.corps.QywxProxyType`` is the layer module that defines it); aliases
keep one module, and so one class identity, whichever name imported it.

Who sees which names:

- **Element code** (modules under the layer packages) is executed with builtins whose ``__import__``
  sends every import naming an element, or a folder above elements, to the app's view. Inside
  element code the app's fullNames therefore win, whatever the host or the standard library holds.
- **The host program** keeps its own modules and the standard library's exactly as before an App was
  built: a bare top-level name (``corps``) resolves to the active app's view only when it is not a
  standard-library name and no other import finder provides it (a folder of the app itself, found
  as a namespace package because the app folder is on ``sys.path``, does not count).

One app is active per process for bare names (the last one built or activated); the view an
element module uses is chosen by ``_ElementFinder.view_for``, so code loaded under an app's own
view can later resolve through that app alone.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .layers import LAYER_PACKAGE_PREFIX, OFFICIAL_PACKAGE

if TYPE_CHECKING:
    from .index import AppIndex

__all__ = ["VIEW_PREFIX", "activate", "active_index", "register_layer"]

VIEW_PREFIX = "jitlite._views"
_ELEMENT_PREFIXES = (OFFICIAL_PACKAGE + ".", LAYER_PACKAGE_PREFIX + ".")
# Names the host may import that no finder reports but that are the interpreter's own.
_RESERVED = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


class _AliasLoader(importlib.abc.Loader):
    """Hand out an already imported module under another name."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.original_spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system re-points __spec__ at the alias; keep the real one.
        module.__spec__ = self.original_spec


class _ElementSourceLoader(importlib.machinery.SourceFileLoader):
    """Load element code with builtins whose ``__import__`` resolves fullNames through the app's view."""

    def exec_module(self, module: ModuleType) -> None:
        # A copy per module, taken now: later changes to builtins made by the host still show up in
        # modules loaded later, and no element module can alter another's builtins.
        module.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": _element_import}
        super().exec_module(module)


def _namespace(name: str) -> importlib.machinery.ModuleSpec:
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = []
    return spec


@dataclass(eq=False)
class _View:
    """One app's fullNames as a package (``jitlite._views.<key>``)."""

    package: str
    index_ref: weakref.ref[AppIndex]
    top_names: frozenset[str]
    folders: frozenset[str]  # dotted paths of the plain folders above elements ("corps", "auths.loginTypes")
    roots: tuple[str, ...]  # real paths of the layer folders
    resolved: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, package: str, index: AppIndex) -> _View:
        folders = {name.rsplit(".", i)[0] for name in index.visible for i in range(1, name.count(".") + 1)}
        roots = tuple(os.path.realpath(layer.root) for layer in index.layers)
        return cls(package, weakref.ref(index), index.top_names, frozenset(folders - set(index.visible)), roots)

    def resolves(self, name: str) -> bool:
        """Tell whether a dotted name is an element, a module inside one, or a folder above elements."""
        found = self.resolved.get(name)
        if found is not None:
            return found
        found = False
        index = self.index_ref()
        if index is not None and name.partition(".")[0] in self.top_names:
            parts = name.split(".")
            found = name in self.folders or any(
                ".".join(parts[:cut]) in index.visible for cut in range(len(parts), 0, -1))
        self.resolved[name] = found
        return found

    def holds(self, spec: importlib.machinery.ModuleSpec) -> bool:
        """Tell whether a namespace package is only this app's own element folders found on sys.path."""
        if spec.origin is not None or not spec.submodule_search_locations:
            return False
        return all(
            any(real == root or real.startswith(root + os.sep) for root in self.roots)
            for real in map(os.path.realpath, spec.submodule_search_locations)
        )


class _ElementFinder(importlib.abc.MetaPathFinder):
    """Find layer packages, app views, element code, and the host's bare element names."""

    def __init__(self) -> None:
        self.layer_roots: dict[str, str] = {}
        self.views: dict[str, _View] = {}  # by package
        self.view_of_index: weakref.WeakKeyDictionary[AppIndex, _View] = weakref.WeakKeyDictionary()
        self.active: _View | None = None
        self.active_index: AppIndex | None = None  # kept alive while it is the active one
        self.host_aliases: dict[str, tuple[ModuleType, _View]] = {}
        self.counter = itertools.count(1)
        self.lock = threading.RLock()

    # -- the import protocol -------------------------------------------------------------------

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("jitlite."):
            return self._package_spec(fullname, path)
        top, dot, _ = fullname.partition(".")
        if dot:
            alias = self.host_aliases.get(top)
            if alias is None or sys.modules.get(top) is not alias[0]:
                return None  # the host's own package: its children are its business
            return self._host_alias(fullname, alias[1])
        view = self.active
        if view is None or fullname not in view.top_names or self._taken_elsewhere(fullname, view):
            return None
        return self._host_alias(fullname, view)

    def _package_spec(self, fullname: str, path: Sequence[str] | None) -> importlib.machinery.ModuleSpec | None:
        root = self.layer_roots.get(fullname)
        if root is not None:
            layer_spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            layer_spec.submodule_search_locations = [root]
            return layer_spec
        if fullname == VIEW_PREFIX:
            return _namespace(fullname)
        if fullname.startswith(VIEW_PREFIX + "."):
            key, _, short = fullname[len(VIEW_PREFIX) + 1:].partition(".")
            view = self.views.get(f"{VIEW_PREFIX}.{key}")
            if view is None:
                return None
            return _namespace(fullname) if not short else self._view_spec(view, short, fullname)
        if fullname.startswith(_ELEMENT_PREFIXES) and path is not None:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
                assert spec.origin is not None
                spec.loader = _ElementSourceLoader(fullname, spec.origin)
            return spec
        return None

    def _view_spec(self, view: _View, short: str, fullname: str) -> importlib.machinery.ModuleSpec | None:
        """Resolve a view submodule to the highest layer that defines it, or to a folder namespace."""
        index = view.index_ref()
        if index is None:
            return None
        if short in view.folders:
            # A plain folder above elements: a namespace whose children resolve again, each to the
            # layer that defines it (an override need not repeat the official Type's children).
            return _namespace(fullname)
        parts = short.split(".")
        for cut in range(len(parts), 0, -1):
            owner = index.visible.get(".".join(parts[:cut]))
            if owner is not None:  # the element itself, or a module inside it, from its highest layer
                module = importlib.import_module(f"{owner.layer.package}.{short}")
                return importlib.machinery.ModuleSpec(
                    fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))
        return None

    def _host_alias(self, fullname: str, view: _View) -> importlib.machinery.ModuleSpec | None:
        """Give the host the view's module for a short name it cannot find anywhere else."""
        if not view.resolves(fullname):
            return None
        module = importlib.import_module(f"{view.package}.{fullname}")
        with self.lock:
            self.host_aliases[fullname] = (module, view)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))

    def _taken_elsewhere(self, name: str, view: _View) -> bool:
        """Tell whether the standard library or another finder (the host's path) provides a top-level name."""
        if name in _RESERVED:
            return True
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            try:
                spec = find(name, None)
            except (ImportError, ValueError):
                continue
            if spec is not None and not view.holds(spec):
                return True
        return False

    # -- apps ----------------------------------------------------------------------------------

    def view_for(self, module_name: object) -> _View | None:
        """Return the view an element module's imports resolve through."""
        if isinstance(module_name, str) and module_name.startswith(VIEW_PREFIX + "."):
            key = module_name[len(VIEW_PREFIX) + 1:].partition(".")[0]
            own = self.views.get(f"{VIEW_PREFIX}.{key}")
            if own is not None:
                return own
        return self.active

    def view(self, index: AppIndex) -> _View:
        """Return the view of an app, made on first use and dropped with the app."""
        with self.lock:
            view = self.view_of_index.get(index)
            if view is None:
                view = _View.of(f"{VIEW_PREFIX}.app{next(self.counter)}", index)
                self.view_of_index[index] = view
                self.views[view.package] = view
                weakref.finalize(index, self._forget, view.package)
            return view

    def _forget(self, package: str) -> None:
        with self.lock:
            self.views.pop(package, None)
            for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
                sys.modules.pop(name, None)

    def activate(self, index: AppIndex) -> None:
        with self.lock:
            if self.active_index is index:
                return
            # Forget the previous app's bare names (only those still ours); layer modules stay imported.
            for name, (module, _view) in self.host_aliases.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
            self.host_aliases.clear()
            self.active = self.view(index)
            self.active_index = index


def _element_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    """``__import__`` for element code: fullNames resolve through the app's view, child first."""
    if level == 0:
        # A direct ``__import__("corps.X")`` passes no globals: the caller is the element module.
        caller = sys._getframe(1).f_globals if globals is None else globals
        view = _finder.view_for(caller.get("__name__"))
        if view is not None and view.resolves(name):
            found: ModuleType = builtins.__import__(f"{view.package}.{name}", globals, locals, fromlist, 0)
            if fromlist:
                return found
            # ``import corps.X`` binds ``corps``: the view's top-level namespace.
            return sys.modules[f"{view.package}.{name.partition('.')[0]}"]
    imported: ModuleType = builtins.__import__(name, globals, locals, fromlist or (), level)
    return imported


_finder = _ElementFinder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


# Installed on import so element code is loaded with its import hook however it is first imported.
_install()


def register_layer(package: str, root: str) -> None:
    """Make a layer folder importable as its package name."""
    if package.startswith(LAYER_PACKAGE_PREFIX + "."):
        _finder.layer_roots[package] = os.fspath(root)
    _install()


def activate(index: AppIndex) -> None:
    """Make bare element names resolve through this app's layers."""
    _install()
    _finder.activate(index)


def active_index() -> AppIndex | None:
    """Return the index of the active app, if any."""
    return _finder.active_index
