"""``App``: open an app folder and get its elements by fullName."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from . import importer, logredact
from .element import Element
from .errors import ElementBuildError, ElementNotFound, JitliteError
from .index import AppIndex, build_index, schema_of
from .layers import ElementSpec
from .names import check_full_name, suggest
from .schema import MASK, masked_dump
from .variables import EnvVars, find_secrets

__all__ = ["App"]

T = TypeVar("T")

# Whatever logs in this process (httpx, werkzeug, jitlite, the host), secrets are masked.
logredact.install()


class App:
    """An app folder (``app.json`` and element folders) on top of the official elements.

    Building an App reads and validates every element of every layer; a problem anywhere raises one
    ``ElementLoadError`` listing them all. Element objects are built on first ``getElement`` and
    cached for the life of the App.
    """

    def __init__(self, path: str | Path = ".", *, environ: Mapping[str, str] | None = None) -> None:
        self.root = Path(path).resolve()
        logredact.install()  # again, in case the host replaced the log record factory since import
        self._index: AppIndex = build_index(self.root, environ)
        index = self._index
        index.variables.mark_secret_later(lambda: _secret_placeholder_names(index))
        manifest = self._index.app_layer.manifest
        assert manifest is not None
        self.appId: str = manifest.appId
        self.title: str = manifest.title
        self.version: str = manifest.version
        #: An httpx transport every WeCom/WeChat client of this app uses (the sandbox sets one in tests).
        self.httpTransport: Any = None
        self._shared: dict[str, Any] = {}
        self._settings_overrides: dict[str, Any] = {}
        self._instances_of: dict[str, list[str]] = {}
        self._objects: dict[str, Any] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._building = threading.local()
        for layer in self._index.layers:
            importer.register_layer(layer.package, str(layer.root))
        importer.activate(self._index)

    # -- what the app is made of ---------------------------------------------------------------

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
        """Return the app-wide object stored under key, creating it once with factory."""
        try:
            found: T = self._shared[key]
            return found
        except KeyError:
            pass
        with self._lock_for(f"shared:{key}"):
            if key not in self._shared:
                self._shared[key] = factory()
            made: T = self._shared[key]
            return made

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
        failures = []
        for spec in self.specs():
            try:
                self._class_of(spec)
            except ElementBuildError as exc:
                failures.append(str(exc))
        return failures

    def activate(self) -> None:
        """Make short element imports (``from corps.X import Y``) resolve through this app."""
        importer.activate(self._index)

    # -- getElement ----------------------------------------------------------------------------

    def getElement(self, fullName: str) -> Any:
        """Return the element with this fullName: a Meta's or Type's class, or an instance object."""
        try:
            return self._objects[fullName]
        except (KeyError, TypeError):
            pass
        return self._build(check_full_name(fullName))

    def _build(self, full_name: str) -> Any:
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
                importer.activate(self._index)
                built = self._make(spec)
            finally:
                busy.discard(full_name)
            self._objects[full_name] = built
            return built

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
        """Return the class an element provides: its own className, else its overridden or type's."""
        own = next((s for s in spec.override_chain() if s.declaration.className), None)
        if own is None:
            if spec.type_spec is None:
                raise ElementBuildError(f"Meta {spec.full_name} declares no className in {spec.declaration_path}")
            inherited: type = self.getElement(spec.type_spec.full_name)
            return inherited
        cls = _import_class(own)
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


def _import_class(spec: ElementSpec) -> type:
    """Import the class named by an element's ``className`` ("Name" or "package.module:Name")."""
    class_name = spec.declaration.className or ""
    module_name, _, attr = class_name.rpartition(":")
    if not module_name:
        module_name, attr = spec.module_name, class_name
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ElementBuildError(f"{spec.full_name}: importing {module_name} failed: {type(exc).__name__}: {exc} "
                                f"(in {spec.folder})") from exc
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ElementBuildError(f"{spec.full_name}: className {class_name!r} names no class in {module_name}; "
                                f"define it there or correct className in {spec.declaration_path}")
    return cls
