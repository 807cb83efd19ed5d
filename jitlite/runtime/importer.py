"""Import element code by fullName (``from corps.QywxProxyType import QywxProxyCorp``).

Element code lives in layer packages: ``jitlite.types`` for the official elements and
``jitlite._layers.<appId>_<hash>`` for each app folder (an extended app's folder gets one package
per app extending it, so each loads its own copy). Each app also gets a *view*,
``jitlite._views.<key>``, whose submodules are the app's fullNames resolved child first through its
layers (``jitlite._views.app1.corps.QywxProxyType`` is the layer module that defines it); aliases
keep one module, and so one class identity, whichever name imported it.

Who sees which names:

- **Element code** (modules under the layer packages) is executed with builtins whose ``__import__``
  sends every import naming an element, or a folder above elements, to an app's view. Inside
  element code the app's fullNames therefore win, whatever the host or the standard library holds.
  The view is the app whose layers hold the importing module: an app's own code always resolves
  through that app, whichever other apps the process has opened or used since. Code shared by
  several apps (the official elements, one folder opened as two Apps) resolves through the app
  that is building an element in this thread (``building``), else through the active app.
- **JitAi's ``jit`` package** (``from jit.errcode import Code``, ``from jit.commons.utils.logger
  import log``) is ``jitlite.compat.jit`` inside element code, and for the host too when no other
  ``jit`` module is installed.
- **The host program** keeps its own modules and the standard library's exactly as before an App was
  built: a bare top-level name (``corps``) resolves to the active app's view only when it is not a
  standard-library name and no other import finder provides it (a folder of the app itself, found
  as a namespace package because the app folder is on ``sys.path``, does not count).

One app is active per process for the host's bare names: the one most recently opened, that
built an element, or that ``App.activate()`` was called on.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import importlib
import importlib.abc
import importlib.machinery
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .layers import LAYER_PACKAGE_PREFIX, OFFICIAL_PACKAGE

if TYPE_CHECKING:
    from .index import AppIndex

__all__ = ["COMPAT_PACKAGE", "VIEW_PREFIX", "activate", "active_index", "building", "register_layer"]

VIEW_PREFIX = "jitlite._views"
#: Where the modules of JitAi's ``jit`` package live (``jit.errcode`` is ``jitlite.compat.jit.errcode``).
COMPAT_PACKAGE = "jitlite.compat.jit"
_COMPAT_TOP = "jit"
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
    layer_packages: frozenset[str]  # the app layers' packages (jitlite._layers.<…>)
    own_package: str  # the package of the app's own layer
    resolved: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, package: str, index: AppIndex) -> _View:
        folders = {name.rsplit(".", i)[0] for name in index.visible for i in range(1, name.count(".") + 1)}
        roots = tuple(os.path.realpath(layer.root) for layer in index.layers)
        packages = frozenset(layer.package for layer in index.layers if not layer.is_official)
        return cls(package, weakref.ref(index), index.top_names, frozenset(folders - set(index.visible)), roots,
                   packages, index.app_layer.package)

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
        self.compat_aliases: dict[str, ModuleType] = {}  # the host's "jit" modules that are jitlite's
        self.holding: dict[str, list[_View]] = {}  # layer package -> the views holding it (cleared on change)
        self.counter = itertools.count(1)
        self.lock = threading.RLock()
        self.building: contextvars.ContextVar[_View | None] = contextvars.ContextVar("jitlite_building", default=None)

    # -- the import protocol -------------------------------------------------------------------

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("jitlite."):
            return self._package_spec(fullname, path)
        top, dot, _ = fullname.partition(".")
        if top == _COMPAT_TOP:
            return self._compat_spec(fullname)
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

    def _compat_spec(self, fullname: str) -> importlib.machinery.ModuleSpec | None:
        """Give the host jitlite's ``jit`` package, unless another ``jit`` is installed."""
        if fullname == _COMPAT_TOP:
            if self._taken_elsewhere(_COMPAT_TOP, None):
                return None
        elif sys.modules.get(_COMPAT_TOP) is not self.compat_aliases.get(_COMPAT_TOP):
            return None  # the host's own jit package: its children are its business
        try:
            module = importlib.import_module(COMPAT_PACKAGE + fullname[len(_COMPAT_TOP):])
        except ModuleNotFoundError:
            return None
        with self.lock:
            self.compat_aliases[fullname] = module
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=hasattr(module, "__path__"))

    def _taken_elsewhere(self, name: str, view: _View | None) -> bool:
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
            if spec is not None and (view is None or not view.holds(spec)):
                return True
        return False

    # -- apps ----------------------------------------------------------------------------------

    def view_for(self, module_name: object) -> _View | None:
        """Return the view an element module's imports resolve through.

        A module of an app layer resolves through the app that loaded it: the one building in this
        thread or the active one when they hold that layer, else the app whose own layer it is,
        else the newest app holding it. Any other module (the official elements) resolves through
        the app building in this thread, else the active app.
        """
        current = self.building.get()
        if isinstance(module_name, str):
            if module_name.startswith(VIEW_PREFIX + "."):
                key = module_name[len(VIEW_PREFIX) + 1:].partition(".")[0]
                own = self.views.get(f"{VIEW_PREFIX}.{key}")
                if own is not None:
                    return own
            elif module_name.startswith(LAYER_PACKAGE_PREFIX + "."):
                layer = f"{LAYER_PACKAGE_PREFIX}.{module_name[len(LAYER_PACKAGE_PREFIX) + 1:].partition('.')[0]}"
                holding = self._views_holding(layer)
                if holding:
                    for preferred in (current, self.active):
                        if preferred is not None and preferred in holding:
                            return preferred
                    own_layer = [view for view in holding if view.own_package == layer]
                    return (own_layer or holding)[-1]
        return current or self.active

    def _views_holding(self, layer_package: str) -> list[_View]:
        """Return the live views whose layers include a layer package, oldest first."""
        holding = self.holding.get(layer_package)
        if holding is None:
            with self.lock:
                holding = self.holding[layer_package] = [
                    view for view in self.views.values() if layer_package in view.layer_packages]
        return [view for view in holding if view.index_ref() is not None]

    def view(self, index: AppIndex) -> _View:
        """Return the view of an app, made on first use and dropped with the app."""
        with self.lock:
            view = self.view_of_index.get(index)
            if view is None:
                view = _View.of(f"{VIEW_PREFIX}.app{next(self.counter)}", index)
                self.view_of_index[index] = view
                self.views[view.package] = view
                self.holding.clear()
                weakref.finalize(index, self._forget, view.package)
            return view

    def _forget(self, package: str) -> None:
        with self.lock:
            self.views.pop(package, None)
            self.holding.clear()
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
            return _import_under(view.package, name, globals, locals, fromlist)
        if name == _COMPAT_TOP or name.startswith(_COMPAT_TOP + "."):
            # JitAi's jit package (jit.errcode, jit.commons.utils.logger): jitlite's, unless the app has a jit element.
            return _import_under(COMPAT_PACKAGE.rpartition(".")[0], name, globals, locals, fromlist)
    imported: ModuleType = builtins.__import__(name, globals, locals, fromlist or (), level)
    return imported


def _import_under(
    package: str, name: str, globals: Mapping[str, Any] | None, locals: Mapping[str, Any] | None,
    fromlist: Sequence[str] | None,
) -> ModuleType:
    """Import ``package.name`` as ``import name`` would: ``from a.b import x`` gets a.b, ``import a.b`` gets a."""
    found: ModuleType = builtins.__import__(f"{package}.{name}", globals, locals, fromlist, 0)
    if fromlist:
        return found
    return sys.modules[f"{package}.{name.partition('.')[0]}"]


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


@contextlib.contextmanager
def building(index: AppIndex) -> Iterator[None]:
    """Resolve imports of shared element code (the official elements) through this app, in this thread."""
    _install()
    token = _finder.building.set(_finder.view(index))
    try:
        yield
    finally:
        _finder.building.reset(token)


def active_index() -> AppIndex | None:
    """Return the index of the active app, if any."""
    return _finder.active_index
