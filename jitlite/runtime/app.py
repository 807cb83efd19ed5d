"""``App``: open an app folder, get its elements by fullName, and close it.

::

    with jitlite.App("path/to/app") as app:
        login = app.getElement("auths.QywxProxyTemp", QywxProxyAuth)   # typed, checked at run time
        ...
    # leaving the block ran every element's onAppExit, stopped workers, closed engines and caches
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

from . import importer, logredact
from .classes import INIT_FILE, exported_class, import_class_name, missing_class_text
from .element import Element
from .errors import AppClosed, ElementBuildError, ElementNotFound, ElementTypeError, JitliteError, Problem
from .index import AppIndex, build_index, schema_of
from .layers import ElementSpec
from .names import check_full_name, suggest
from .schema import MASK, masked_dump
from .settings import DEFAULT_ELEMENT_SETTING, DEFAULT_ELEMENTS
from .variables import EnvVars, find_secrets

__all__ = ["App"]

T = TypeVar("T")

log = logging.getLogger("jitlite.lifecycle")

# Whatever logs in this process (httpx, werkzeug, jitlite, the host), secrets are masked.
logredact.install()


class App:
    """An app folder (``app.json`` and element folders) on top of the official elements.

    Building an App reads and validates every element of every layer; a problem anywhere raises one
    ``ElementLoadError`` listing them all. Element objects are built on first ``getElement`` and
    cached for the life of the App.

    Element classes may define JitAi's lifecycle hooks: ``onLoad()`` runs once after the object is
    built, ``onCalled()`` on every ``getElement`` that returns it, ``onAppExit()`` at ``close()``.
    ``close()`` (or the end of a ``with`` block) then calls ``close()`` on every built object that
    has one taking no arguments, newest first: callback workers stop, engines and caches close.
    """

    def __init__(self, path: str | Path = ".", *, environ: Mapping[str, str] | None = None) -> None:
        self.root = Path(path).resolve()
        logredact.install()  # again, in case the host replaced the log record factory since import
        self._index: AppIndex = build_index(self.root, environ)
        index = self._index
        index.variables.mark_secret_later(lambda: _secret_placeholder_names(index))
        manifest = self._index.app_layer.manifest
        assert manifest is not None
        #: ``myApp``, or JitAi's ``orgId.appName`` (``wanyun.MyApp``).
        self.appId: str = manifest.appId
        self.title: str = manifest.title
        self.version: str = manifest.version
        #: The organisation: app.json's ``orgId``, else the part of a dotted appId before the dot.
        self.orgId: str | None = manifest.org_id
        #: JitAi's app name: app.json's ``name``, else the part of the appId after the dot.
        self.name: str = manifest.name or manifest.appId.rpartition(".")[2]
        self.icon: str | None = manifest.icon
        #: The Python requirements app.json lists (jitlite does not install them).
        self.requirements: list[str] = list(manifest.requirements)
        #: An httpx transport every WeCom/WeChat client of this app uses (the sandbox sets one in tests).
        self.httpTransport: Any = None
        self._shared: dict[str, Any] = {}
        self._settings_overrides: dict[str, Any] = {}
        self._instances_of: dict[str, list[str]] = {}
        self._objects: dict[str, Any] = {}
        self._on_called: dict[str, Callable[[], Any]] = {}
        self._built: list[tuple[str, Any]] = []  # (name, object) of each built object, in build order
        self._closed = False
        self._lifecycle = threading.Lock()  # guards _closed and _built
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._building = threading.local()
        for layer in self._index.layers:
            importer.register_layer(layer.package, str(layer.root))
        importer.activate(self._index)

    # -- what the app is made of ---------------------------------------------------------------

    @property
    def appKey(self) -> str:
        """Return JitAi's runtime key of the app: ``appId@version`` (``wanyun.MyApp@1.0.0``)."""
        return f"{self.appId}@{self.version}"

    def getParentsMetadata(self) -> list[dict[str, Any]]:
        """Return what the app.json of each app this app extends says, in lookup order (highest layer first).

        Each entry has ``appId``, ``appKey``, ``orgId``, ``name``, ``title``, ``version``, ``icon``,
        ``requirements``, ``extends`` (as written) and ``path`` (the app's folder). The official
        elements shipped with jitlite are no app and are not listed.
        """
        parents = []
        for layer in reversed(self._index.layers[1:-1]):
            manifest = layer.manifest
            assert manifest is not None
            parents.append({
                "appId": manifest.appId,
                "appKey": manifest.app_key,
                "orgId": manifest.org_id,
                "name": manifest.name or manifest.appId.rpartition(".")[2],
                "title": manifest.title,
                "version": manifest.version,
                "icon": manifest.icon,
                "requirements": list(manifest.requirements),
                "extends": [entry.written() for entry in manifest.extends],
                "path": str(layer.root),
            })
        return parents

    def defaultElementName(self, key: str) -> str:
        """Return the fullName of a default element (``defaultDatabase``, ``defaultCache``).

        It is ``settings.defaultElement[key]`` when the app (or an app it extends) names one, else
        ``databases.Default`` / ``caches.Default``. The official Types use these defaults.
        """
        default = DEFAULT_ELEMENTS.get(key)
        if default is None:
            raise KeyError(f"unknown default element {key!r}; jitlite knows {', '.join(DEFAULT_ELEMENTS)}")
        configured = self.settings.get(DEFAULT_ELEMENT_SETTING)
        named = configured.get(key) if isinstance(configured, Mapping) else None
        return named if isinstance(named, str) and named else default[0]

    def defaultDatabase(self) -> Any:
        """Return the app's default database element (``settings.defaultElement.defaultDatabase``)."""
        return self.getElement(self.defaultElementName("defaultDatabase"))

    def defaultCache(self) -> Any:
        """Return the app's default cache element (``settings.defaultElement.defaultCache``)."""
        return self.getElement(self.defaultElementName("defaultCache"))

    @property
    def envVars(self) -> EnvVars:
        """Return the merged variables: declared defaults < jitlite.toml < environment.

        A dict whose repr masks the secret variables (``JITLITE_SECRET_KEY``, names that look
        secret, ``"secret": true`` declarations, placeholders of secret config fields).
        """
        return self._index.variables.env_vars()

    @property
    def settings(self) -> dict[str, Any]:
        """Return settings: app.json ``settings`` of each layer, jitlite.toml ``[settings]``, then ``configure``."""
        if not self._settings_overrides:
            return self._index.settings
        return {**self._index.settings, **self._settings_overrides}

    def configure(self, **settings: Any) -> None:
        """Override settings in this process (tests and the sandbox point API hosts elsewhere this way)."""
        self._settings_overrides.update(settings)

    @property
    def appDataDir(self) -> Path:
        """Return the folder where the app keeps its data (SQLite files and the like)."""
        return self.root / "appData"

    @property
    def layers(self) -> list[str]:
        """Return the layer names, lowest first."""
        return [layer.name for layer in self._index.layers]

    def specs(self) -> list[ElementSpec]:
        """Return the spec of every visible element, sorted by fullName."""
        return [self._index.visible[name] for name in sorted(self._index.visible)]

    def instancesOf(self, typeName: str) -> list[str]:
        """Return the fullNames of the instances of a Type (or of Types extending it), sorted."""
        found = self._instances_of.get(typeName)
        if found is None:  # the index never changes, so one walk per Type is enough
            found = self._instances_of[typeName] = [
                spec.full_name for spec in self.specs()
                if spec.kind == "instance" and typeName in (self._index.type_chain(spec.full_name) or ())]
        return list(found)

    def spec(self, fullName: str) -> ElementSpec:
        """Return the spec of one element; raise ElementNotFound if there is none."""
        check_full_name(fullName)
        spec = self._index.spec(fullName)
        if spec is None:
            raise self._not_found(fullName)
        return spec

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """Return the app-wide object stored under key, creating it once with factory.

        Such an object with a ``close()`` taking no arguments is closed with the app.
        """
        try:
            found: T = self._shared[key]
            return found
        except KeyError:
            pass
        with self._lock_for(f"shared:{key}"):
            if key not in self._shared:
                if self._closed:
                    raise AppClosed(f"app {self.appId!r} is closed: it makes no shared {key!r} any more")
                made = factory()
                with self._lifecycle:
                    if self._closed:
                        _close_quietly(f"shared {key}", made)
                        raise AppClosed(f"app {self.appId!r} was closed while {key!r} was being made")
                    self._shared[key] = made
                    self._built.append((f"shared {key}", made))
            shared: T = self._shared[key]
            return shared

    def describe(self, fullName: str) -> dict[str, Any]:
        """Return what ``jitlite show`` prints about an element: origin, declaration, config (masked)."""
        spec = self.spec(fullName)
        info: dict[str, Any] = {
            "fullName": spec.full_name,
            "kind": spec.kind,
            "type": spec.type_name,
            "typeChain": self._index.type_chain(spec.full_name),
            "layer": spec.layer.name,
            "folder": spec.folder,
            "overrides": [f"{s.layer.name}: {s.folder}" for s in spec.override_chain()[1:]],
        }
        validated = self._index.validated.get(spec.full_name)
        if validated is not None:
            info["declaration"] = self._masked(masked_dump(validated.declaration, exclude_unset=True))
            info["config"] = self._masked(masked_dump(validated.config))
            info["configFile"] = spec.config_path
        else:
            info["declaration"] = self._masked(masked_dump(spec.declaration, exclude_unset=True))
            schema = schema_of(self._index, spec, []) if spec.kind in ("type", "meta") else None
            if schema is not None:
                info["configSchema"] = schema.config.model_json_schema()
        return info

    def _masked(self, dumped: dict[str, Any]) -> dict[str, Any]:
        """Mask secret variables in a dumped declaration or config."""
        # Their declared values, and any string a secret value was filled into (a field not declared secret).
        variables = self._index.variables
        for decl in dumped.get("variables") or ():
            if isinstance(decl, dict) and variables.is_secret(str(decl.get("name"))) and decl.get("value"):
                decl["value"] = MASK
        secrets = [v for n, v in variables.values.items() if len(v) >= 4 and variables.is_secret(n)]
        masked: dict[str, Any] = _mask_strings(dumped, secrets) if secrets else dumped
        return masked

    def checkClasses(self) -> list[str]:
        """Import the class of every element; return one message per element that cannot be built."""
        return [problem.message for problem in self.classProblems()]

    def classProblems(self) -> list[Problem]:
        """Import the class of every element; return a Problem (element, folder, why) per one that cannot be built."""
        problems = []
        for spec in self.specs():
            try:
                self._class_of(spec)
            except ElementBuildError as exc:
                problems.append(Problem(spec.full_name, str(spec.folder), str(exc),
                                        "fix the element's code (the message names the cause)"))
        return problems

    def activate(self) -> None:
        """Make short element imports (``from corps.X import Y``) resolve through this app."""
        importer.activate(self._index)

    # -- getElement ----------------------------------------------------------------------------

    @overload
    def getElement(self, fullName: str) -> Any: ...

    @overload
    def getElement(self, fullName: str, cls: type[T]) -> T: ...

    def getElement(self, fullName: str, cls: type[T] | None = None) -> Any:
        """Return the element with this fullName: a Meta's or Type's class, or an instance object.

        With ``cls``, the element must be an instance of it (``ElementTypeError`` names both classes
        otherwise), and type checkers know the result is one. An instance whose class defines
        ``onCalled()`` has it called on every lookup.
        """
        try:
            found = self._objects[fullName]
        except (KeyError, TypeError):
            found = self._build(check_full_name(fullName))
        if cls is not None and not isinstance(found, cls):
            raise ElementTypeError(f"{fullName} is {_described(found)}, not {_described_class(cls)} "
                                   f"as getElement({fullName!r}, {cls.__qualname__}) expects")
        hook = self._on_called.get(fullName)
        if hook is not None:
            hook()
        return found

    def _build(self, full_name: str) -> Any:
        if self._closed:
            raise self._closed_error(full_name)
        spec = self._index.spec(full_name)
        if spec is None:
            raise self._not_found(full_name)
        with self._lock_for(full_name):
            if full_name in self._objects:
                return self._objects[full_name]
            busy: set[str] = self._building.__dict__.setdefault("names", set())
            if full_name in busy:
                raise ElementBuildError(f"{full_name} needs itself while it is being built (a cycle in onLoad "
                                        "or className resolution)")
            busy.add(full_name)
            try:
                # The host's bare names follow the app that last built an element (static methods of
                # organisation Types find their app so); shared element code imported or run while
                # it is built resolves through this app, whatever other threads do meanwhile.
                importer.activate(self._index)
                with importer.building(self._index):
                    built = self._make(spec)
            finally:
                busy.discard(full_name)
            with self._lifecycle:
                if self._closed:  # closed meanwhile: not handed out, and closed now
                    _close_quietly(full_name, built)
                    raise self._closed_error(full_name)
                if not isinstance(built, type):
                    self._built.append((full_name, built))
                    if callable(getattr(type(built), "onCalled", None)):
                        self._on_called[full_name] = built.onCalled
                self._objects[full_name] = built
            return built

    # -- closing -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Tell whether ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Run ``onAppExit()`` of every built element, then close each one, newest first.

        Each built object (and shared object) with a ``close()`` taking no arguments is closed:
        callback workers finish what they hold and stop, database engines release their
        connections, caches their backends. A failing hook or close is logged and the others still
        run. Calling it again does nothing; ``getElement`` afterwards raises ``AppClosed``.
        """
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
            built = list(reversed(self._built))
        # Hooks first, while every element is still open: onAppExit may still use a model or a cache.
        for name, obj in built:
            if callable(getattr(type(obj), "onAppExit", None)):
                _call_quietly(name, "onAppExit", obj.onAppExit)
        with self._lifecycle:
            self._objects.clear()
            self._on_called.clear()
            self._shared.clear()
            self._built.clear()
        for name, obj in built:
            _close_quietly(name, obj)

    def __enter__(self) -> App:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _closed_error(self, full_name: str) -> AppClosed:
        return AppClosed(f"app {self.appId!r} is closed: getElement({full_name!r}) builds nothing any more; "
                         "open the app again with jitlite.App(...)")

    def _lock_for(self, full_name: str) -> threading.RLock:
        with self._locks_guard:
            lock = self._locks.get(full_name)
            if lock is None:
                lock = self._locks[full_name] = threading.RLock()
            return lock

    def _make(self, spec: ElementSpec) -> Any:
        cls = self._class_of(spec)
        if spec.kind != "instance":
            return cls
        validated = self._index.validated[spec.full_name]
        # Its secrets are masked in every log record and error from now on, whatever their form there.
        logredact.register_secrets(*find_secrets(validated.config)[0], *find_secrets(validated.declaration)[0])
        try:
            obj = cls(app=self, spec=spec, declaration=validated.declaration, config=validated.config)
            obj.onLoad()
        except JitliteError:
            raise
        except Exception as exc:
            # The cause's text may quote a variable's value: secret ones are masked.
            raise ElementBuildError(f"building {spec.full_name} ({cls.__qualname__}) failed: "
                                    f"{type(exc).__name__}: {logredact.redact(str(exc))}") from exc
        return obj

    def _class_of(self, spec: ElementSpec) -> type:
        """Return the class an element provides: its own (className or same-name export), else its type's."""
        cls: type | None = None
        own = spec
        for own in spec.override_chain():
            if own.declaration.className:
                cls = import_class_name(own)
                break
            if INIT_FILE in own.files:
                cls = exported_class(own)
                if cls is not None:
                    break
        if cls is None:
            if spec.type_spec is None:
                raise ElementBuildError(f"Meta {spec.full_name} has no class: it declares no className in "
                                        f"{spec.declaration_path} and exports no class named {spec.name!r}")
            requiring = self._index.requiring_type(spec) if spec.kind == "instance" else None
            if requiring is not None:
                message, fix = missing_class_text(spec, requiring)
                raise ElementBuildError(f"{spec.full_name}: {message}; {fix}")
            inherited: type = self.getElement(spec.type_spec.full_name)
            return inherited
        if spec.type_spec is not None:
            parent = self.getElement(spec.type_spec.full_name)
            if not (isinstance(parent, type) and issubclass(cls, parent)):
                raise ElementBuildError(
                    f"{spec.full_name}: class {cls.__module__}.{cls.__qualname__} must subclass its type's class "
                    f"{getattr(parent, '__qualname__', parent)} ({spec.type_spec.full_name}); fix its definition "
                    f"in {own.folder}")
        elif not issubclass(cls, Element):
            raise ElementBuildError(f"Meta {spec.full_name}: class {cls.__qualname__} must subclass jitlite.Element")
        return cls

    def _not_found(self, full_name: str) -> ElementNotFound:
        hidden = self._index.hidden.get(full_name)
        if hidden is not None:
            return ElementNotFound(full_name, detail=f"it is private to app {hidden.layer.name!r}")
        return ElementNotFound(full_name, suggest(full_name, self._index.visible))

    def __repr__(self) -> str:
        return f"<App {self.appId} at {self.root}>"



def _secret_placeholder_names(index: AppIndex) -> set[str]:
    """Return the variables whose placeholders fill a field that a Type's schema declares secret."""
    names: set[str] = set()
    for full_name, validated in index.validated.items():
        spec = index.visible.get(full_name)
        if spec is not None and spec.placeholders:
            names |= find_secrets(validated.config, spec.raw_config)[1]
            names |= find_secrets(validated.declaration, spec.raw_declaration)[1]
    return names


def _mask_strings(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return MASK if any(secret in value for secret in secrets) else value
    if isinstance(value, dict):
        return {k: _mask_strings(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_strings(v, secrets) for v in value]
    return value


def _described_class(cls: type) -> str:
    return f"a {cls.__module__}.{cls.__qualname__}"


def _described(found: Any) -> str:
    if isinstance(found, type):
        return f"the class {found.__module__}.{found.__qualname__} (a Type or Meta)"
    return _described_class(type(found))


def _takes_no_arguments(method: Callable[..., Any]) -> bool:
    """Tell whether a method can be called without arguments (a business function named close cannot)."""
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return True
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in signature.parameters.values())


def _call_quietly(name: str, hook: str, method: Callable[[], Any]) -> None:
    """Call a lifecycle method; log its failure (masked) rather than stop closing the others."""
    try:
        method()
    except Exception as exc:
        log.error("closing the app: %s.%s() failed: %s: %s", name, hook, type(exc).__name__,
                  logredact.redact(str(exc)))


def _close_quietly(name: str, obj: Any) -> None:
    """Close an object that has a ``close()`` taking no arguments."""
    close = getattr(obj, "close", None)
    if not isinstance(obj, type) and callable(close) and _takes_no_arguments(close):
        _call_quietly(name, "close", close)
