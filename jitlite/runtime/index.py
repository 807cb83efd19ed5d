"""The app index: every layer's elements merged, their types resolved, instances validated.

Start-up runs in phases — layers, discovery, merge, variables, types, schemas, validation — and
collects every problem before raising one ElementLoadError, so a user fixes all of them in one go.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from .classes import missing_class_problem
from .errors import ElementLoadError, Problem
from .files import FileRefused
from .layers import MANIFEST, ElementSpec, Layer, discover, resolve_layers, typo_problems
from .names import misspelling_of, suggest
from .provided import ProvidedVariable, provided_variable, provided_variables
from .reporting import validation_problems
from .schema import Declaration, VariableDecl
from .settings import DEFAULT_ELEMENT_SETTING, DEFAULT_ELEMENTS, setting_problems
from .variables import (
    TOML_NAME,
    LocalSettings,
    MissingVariable,
    VariableSet,
    fill_placeholders,
    read_toml,
)

__all__ = ["AppIndex", "ElementSchema", "build_index", "schema_of"]

log = logging.getLogger("jitlite.loader")

SCHEMA_FILE = "schema.py"


class AnyConfig(BaseModel):
    """The business config of a Type that declares no schema: anything goes."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True)
class ElementSchema:
    """The pydantic models a Type gives its instances."""

    declaration: type[Declaration]
    config: type[BaseModel]
    source: str  # where the schema came from, for messages

    @property
    def config_required(self) -> bool:
        """Tell whether an instance must have a business config file."""
        return any(f.is_required() for f in self.config.model_fields.values())


@dataclass
class Validated:
    """An instance's declaration and business config after placeholders and validation."""

    declaration: Declaration
    config: BaseModel


class AppIndex:
    """What start-up learnt about an app; the App builds element objects from it."""

    def __init__(self, root: Path, layers: list[Layer], local: LocalSettings) -> None:
        self.root = root
        self.layers = layers
        self.local = local
        self.visible: dict[str, ElementSpec] = {}
        self.hidden: dict[str, ElementSpec] = {}  # private elements of lower layers
        self.overrides: list[tuple[ElementSpec, ElementSpec]] = []
        self.variables: VariableSet = VariableSet((), {})
        self.schemas: dict[str, ElementSchema] = {}  # keyed by Type/Meta fullName
        self.validated: dict[str, Validated] = {}
        self.top_names: frozenset[str] = frozenset()
        self.problems: list[Problem] = []
        # What start-up could not read: names referring into it are not reported again as unknown.
        self.broken: set[str] = set()  # fullNames (and folders) whose files were refused or invalid
        self.layers_incomplete = False  # an extended app could not be read at all
        self.variables_incomplete = False  # jitlite.toml could not be read, so variables may be missing

    @property
    def app_layer(self) -> Layer:
        """Return the app's own layer (the highest)."""
        return self.layers[-1]

    @cached_property
    def settings(self) -> dict[str, Any]:
        """Return settings: app.json ``settings`` of each layer, then jitlite.toml ``[settings]``.

        A higher source replaces a setting, except ``defaultElement``, merged key by key: an app
        that names its default cache keeps the default database an app it extends names.
        """
        merged: dict[str, Any] = {}
        for source in self.setting_sources():
            for name, value in source[2].items():
                if name == DEFAULT_ELEMENT_SETTING and isinstance(value, dict) and isinstance(merged.get(name), dict):
                    value = {**merged[name], **value}
                merged[name] = value
        return merged

    def setting_sources(self) -> list[tuple[str, str, Mapping[str, Any]]]:
        """Return (label, file, settings) of each source of settings, lowest first."""
        sources: list[tuple[str, str, Mapping[str, Any]]] = [
            (f"app {layer.name}", str(layer.root / MANIFEST), layer.manifest.settings)
            for layer in self.layers if layer.manifest is not None]
        sources.append((f"app {self.app_layer.name}", str(self.root / TOML_NAME), self.local.settings))
        return sources

    def requiring_type(self, spec: ElementSpec) -> str | None:
        """Return the fullName of the Type or Meta that makes an instance bring its own class, if any."""
        current = spec.type_spec
        while current is not None:
            if current.declaration.requiresInstanceClass:
                return current.full_name
            current = current.type_spec
        return None

    def spec(self, full_name: str) -> ElementSpec | None:
        """Return the visible element spec with this fullName, or None."""
        return self.visible.get(full_name)

    def type_chain(self, full_name: str) -> list[str] | None:
        """Return the fullNames of an element's types, nearest first, or None if unknown."""
        spec = self.visible.get(full_name)
        if spec is None:
            return None
        chain: list[str] = []
        current = spec.type_spec
        while current is not None and len(chain) < 64:
            chain.append(current.full_name)
            current = current.type_spec
        return chain

    def type_names(self) -> list[str]:
        """Return the fullNames of every visible Meta and Type."""
        return [n for n, s in self.visible.items() if s.kind in ("meta", "type")]

    def hidden_by_problem(self, full_name: str) -> bool:
        """Tell whether an unknown fullName may be an element that a reported problem kept from loading."""
        if self.layers_incomplete:
            return True
        return any(full_name == name or full_name.startswith(name + ".") for name in self.broken)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while start-up allocates thousands of long-lived objects.

    Start-up creates no garbage cycles worth collecting, yet each generation-2 pass would scan every
    spec built so far; pausing it makes start-up linear in the number of elements.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_index(root: Path, environ: Mapping[str, str] | None = None, *, strict: bool = True) -> AppIndex:
    """Read, merge and validate the app at root; raise ElementLoadError listing every problem.

    With ``strict=False`` element problems are kept in ``index.problems`` instead (tools such as
    ``jitlite new`` work on an app that is still being filled in); a missing app.json still raises.
    """
    with _gc_paused():
        return _build_index(root, environ, strict)


def _build_index(root: Path, environ: Mapping[str, str] | None, strict: bool) -> AppIndex:
    layers, problems, complete = resolve_layers(root, environ)
    label = f"app {root.name}"
    if not layers[-1].manifest or layers[-1].root != root:
        raise ElementLoadError(problems, label)
    label = f"app {layers[-1].name!r}"
    local, toml_problems = read_toml(root)
    index = AppIndex(root, layers, local)
    # An extended app that could not be read leaves its elements unknown: that one cause is enough.
    index.layers_incomplete = not complete
    index.variables_incomplete = bool(toml_problems)
    problems.extend(toml_problems)
    _check_settings(index, problems)
    allow_external = index.settings.get("allowExternalSymlinks") is True
    per_layer = []
    for layer in layers:
        specs, found = discover(layer, allow_external_symlinks=allow_external)
        per_layer.append((layer, specs))
        problems.extend(found)
        index.broken.update(p.full_name for p in found)
    _merge(index, per_layer, problems)
    _resolve_types(index, problems)
    _check_default_elements(index, problems)
    _check_instance_classes(index, problems)
    _collect_variables(index, environ, problems)
    _load_schemas(index, problems)
    _check_declaration_keys(index, problems)
    _validate_instances(index, problems)
    if problems and strict:
        raise ElementLoadError(problems, label)
    index.problems = problems
    index.top_names = frozenset(n.partition(".")[0] for n in index.visible)
    for new, old in index.overrides:
        log.warning("%s from app %r (%s) overrides the one from %s (%s)", new.full_name, new.layer.name,
                    new.folder, _origin(old.layer), old.folder)
    return index


def _check_settings(index: AppIndex, problems: list[Problem]) -> None:
    """Check the settings of every app.json and of jitlite.toml: types of known ones, misspellings."""
    for label, path, settings in index.setting_sources():
        problems.extend(setting_problems(settings, label, path))


def _check_default_elements(index: AppIndex, problems: list[Problem]) -> None:
    """Check ``settings.defaultElement``: each default the official Types use names an element of its kind."""
    for label, path, settings in index.setting_sources():
        defaults = settings.get(DEFAULT_ELEMENT_SETTING)
        if not isinstance(defaults, dict):
            continue  # absent, or of the wrong type (reported with the settings)
        for key, value in defaults.items():
            where = f"settings.{DEFAULT_ELEMENT_SETTING}.{key}"
            known = DEFAULT_ELEMENTS.get(key)
            if known is None:
                meant = misspelling_of(str(key), DEFAULT_ELEMENTS)
                if meant is not None:
                    problems.append(Problem(label, path, f"unknown default element {key!r}",
                                            f"did you mean {meant!r}?", where=where))
                continue  # JitAi's other defaults (portals, storages…) are kept for the app's own use
            meta = known[1]
            if not isinstance(value, str) or not value:
                problems.append(Problem(label, path, f"{key} must be the fullName of a {meta} element",
                                        f'write it as "{key}": "{known[0]}"', where=where))
                continue
            chain = index.type_chain(value)
            if chain is None:
                if index.hidden_by_problem(value):
                    continue  # that element could not be read: its own problem is the one to fix
                close = suggest(value, [n for n in index.visible if meta in (index.type_chain(n) or ())])
                problems.append(Problem(label, path, f"{key} names {value!r}, which is not an element of this app",
                                        f"did you mean {' or '.join(repr(c) for c in close)}?" if close else
                                        f"name an instance of a {meta} Type, e.g. {known[0]}", where=where))
            elif meta not in chain:
                problems.append(Problem(label, path, f"{key} names {value!r}, whose type is "
                                        f"{chain[0] if chain else 'none (a Meta)'}, not a {meta} Type",
                                        f"name an instance of a {meta} Type, e.g. {known[0]}", where=where))


def _check_instance_classes(index: AppIndex, problems: list[Problem]) -> None:
    """Report instances of a code-bearing Type (services, models) that visibly bring no class."""
    for spec in index.visible.values():
        if spec.kind != "instance":
            continue
        requiring = index.requiring_type(spec)
        if requiring is not None:
            problem = missing_class_problem(spec, requiring)
            if problem is not None:
                problems.append(problem)


def _check_declaration_keys(index: AppIndex, problems: list[Problem]) -> None:
    """Report e.json keys that look like misspelt standard fields, unless the element's Type declares them.

    The rule: a key that is not a standard field (``Declaration``) but one edit away from one
    (``titel``, ``descripton``, ``Type``) is a misspelling, unless the Type's own ``Declaration``
    schema declares it as an extra (``tags`` for a Type that declares ``tags``). Any other unknown
    key is kept and exposed, as a Type may read keys it does not declare.
    """
    for spec in [*index.visible.values(), *index.hidden.values()]:
        if not spec.suspect_keys or not spec.kind:
            continue  # no suspicious key, or the element's type is unknown (reported already)
        declared: set[str] = set()
        if spec.kind == "instance" and spec.type_spec is not None:
            schema = index.schemas.get(spec.type_spec.full_name)
            if schema is None:
                continue  # its Type's schema failed to load: reported already
            for name, info in schema.declaration.model_fields.items():
                declared.update(k for k in (name, info.alias) if isinstance(k, str))
        typos = {k: v for k, v in spec.suspect_keys.items() if k not in declared}
        problems.extend(typo_problems(spec.full_name, spec.declaration_path, typos, extra_hint=True))


def _origin(layer: Layer) -> str:
    return "jitlite's official elements" if layer.is_official else f"app {layer.name!r}"


def _merge(index: AppIndex, per_layer: list[tuple[Layer, list[ElementSpec]]], problems: list[Problem]) -> None:
    """Let the highest layer win each fullName, honouring private and protected."""
    top = index.app_layer
    for layer, specs in per_layer:
        for spec in specs:
            name = spec.full_name
            previous = index.visible.get(name)
            if previous is not None:
                if previous.declaration.accessModifier == "protected":
                    problems.append(Problem(
                        name, spec.folder,
                        f"overrides a protected element of {_origin(previous.layer)} ({previous.folder})",
                        "protected elements cannot be overridden: rename this element, or drop the override"))
                    continue
                spec.overrides = previous
                index.overrides.append((spec, previous))
            if spec.declaration.accessModifier == "private" and layer is not top:
                index.hidden[name] = spec
                index.visible.pop(name, None)
                continue
            index.visible[name] = spec


def _types_in_use(index: AppIndex) -> set[str]:
    """Return the fullNames of every Type and Meta that some instance is built from."""
    used: set[str] = set()
    for spec in index.visible.values():
        if spec.kind == "instance":
            used.update(index.type_chain(spec.full_name) or ())
    return used


def _collect_variables(index: AppIndex, environ: Mapping[str, str] | None, problems: list[Problem]) -> None:
    """Merge the app's variables; a Type's required variables count only where the Type is used."""
    environ = os.environ if environ is None else environ
    declarations: list[VariableDecl] = []
    origins: dict[str, tuple[str, str]] = {}
    for layer in index.layers:
        if layer.manifest is not None:
            for decl in layer.manifest.variables:
                declarations.append(decl)
                origins.setdefault(decl.name, (f"app {layer.name}", str(layer.root / "app.json")))
    in_use = _types_in_use(index)
    for spec in index.visible.values():
        for decl in spec.declaration.variables:
            if decl.required and spec.kind in ("type", "meta") and spec.full_name not in in_use:
                decl = decl.model_copy(update={"required": False})
            declarations.append(decl)
            if decl.required:
                origins[decl.name] = (spec.full_name, spec.declaration_path)
    local = dict(index.local.variables)
    # Where each value of `local` came from, for problems with it: jitlite.toml, or a key file.
    local_origins = {name: (str(index.root / TOML_NAME), f"variables.{name}") for name in local}
    for provided in provided_variables():
        _provide_from_file(index, provided, environ, local, local_origins, problems)
    index.variables = VariableSet(declarations, local, environ)
    for provided in provided_variables():
        _check_provided(index, provided, environ, local, local_origins, problems)
    if index.variables_incomplete:
        return  # jitlite.toml could not be read: a variable it may hold is not reported as missing
    for name in index.variables.missing_required():
        label, path = origins.get(name, (f"app {index.app_layer.name}", str(index.root / "app.json")))
        fix = f"set {name} in the environment, or under [variables] in {index.root / 'jitlite.toml'}"
        provider = provided_variable(name)
        if provider is not None and provider.how:
            fix += f" ({provider.how})"
        problems.append(Problem(label, path, f"required variable {name!r} has no value", fix,
                                where=f"variables.{name}"))


def _provide_from_file(index: AppIndex, provided: ProvidedVariable, environ: Mapping[str, str],
                       local: dict[str, str], local_origins: dict[str, tuple[str, str]],
                       problems: list[Problem]) -> None:
    """Fill a provided variable from the file its setting names, unless the environment or jitlite.toml sets it."""
    if provided.file_setting is None or provided.read_file is None:
        return
    file_name = index.settings.get(provided.file_setting)
    if not (isinstance(file_name, str) and file_name) or environ.get(provided.name) or local.get(provided.name):
        return
    path = index.root / file_name
    try:
        local[provided.name] = provided.read_file(path)
    except FileRefused as exc:
        problems.append(Problem(f"app {index.app_layer.name}", str(path), exc.message, exc.fix))
    except OSError as exc:
        problems.append(Problem(f"app {index.app_layer.name}", str(path),
                                f"the file cannot be read or created: {exc.strerror}",
                                "check the permissions of the file and its folder"))
    else:
        local_origins[provided.name] = (str(path), "")


def _check_provided(index: AppIndex, provided: ProvidedVariable, environ: Mapping[str, str],
                    local: Mapping[str, str], local_origins: Mapping[str, tuple[str, str]],
                    problems: list[Problem]) -> None:
    """Fail start-up, not the first use, when a provided variable is set to a value it cannot use."""
    name = provided.name
    value = index.variables.values.get(name) or environ.get(name)
    wrong = provided.problem(value) if value and provided.problem is not None else None
    if wrong is None:
        return
    if environ.get(name) == value:
        path, where = f"the environment variable {name}", ""
    elif local.get(name) == value and name in local_origins:
        path, where = local_origins[name]
    else:
        path, where = str(index.root / MANIFEST), f"variables.{name}"
    problems.append(Problem(f"app {index.app_layer.name}", path, wrong, provided.fix, where=where))


def _resolve_types(index: AppIndex, problems: list[Problem]) -> None:
    """Give every element its kind (meta, type, instance) and the spec of its type."""
    state: dict[str, str] = {}  # "busy" while resolving, "done" after

    def lookup(spec: ElementSpec, name: str) -> ElementSpec | None:
        hidden = index.hidden.get(name)
        if hidden is not None and hidden.layer is spec.layer:
            return hidden
        return index.visible.get(name)

    def resolve(spec: ElementSpec) -> bool:
        key = f"{spec.layer.level}:{spec.full_name}"
        if state.get(key) == "done":
            return bool(spec.kind)
        if state.get(key) == "busy":
            problems.append(Problem(spec.full_name, spec.declaration_path,
                                    f"its type chain loops back to itself through {spec.type_name!r}",
                                    "make the chain end at a Meta (an element whose type is \"\")", "type"))
            return False
        state[key] = "busy"
        ok = _resolve_one(spec)
        state[key] = "done"
        return ok

    def _resolve_one(spec: ElementSpec) -> bool:
        type_name = spec.type_name
        if type_name == "":
            spec.kind = "meta"
            return True
        parent = lookup(spec, type_name)
        if parent is None:
            hidden = index.hidden.get(type_name)
            if hidden is None and index.hidden_by_problem(type_name):
                return False  # its Type could not be read: that problem is reported, not this one
            if hidden is not None:
                message = f"type {type_name!r} is private to app {hidden.layer.name!r}"
                fix = "use a public Type, or ask that app to make it public"
            else:
                close = suggest(type_name, index.type_names())
                message = f"unknown type {type_name!r}"
                fix = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                       else "name an existing Type, e.g. auths.loginTypes.QywxProxyType")
            problems.append(Problem(spec.full_name, spec.declaration_path, message, fix, where="type"))
            return False
        if parent is spec:
            problems.append(Problem(spec.full_name, spec.declaration_path, "an element cannot be its own type",
                                    "name its Type or Meta in \"type\"", where="type"))
            return False
        if not resolve(parent):
            return False
        spec.type_spec = parent
        if parent.kind == "meta" or (parent.kind == "type" and spec.declaration.isType):
            spec.kind = "type"
        elif parent.kind == "type":
            spec.kind = "instance"
        else:
            problems.append(Problem(
                spec.full_name, spec.declaration_path,
                f"type {type_name!r} is an instance, not a Type", "name a Type in \"type\"", where="type"))
            return False
        return True

    for spec in [*index.visible.values(), *index.hidden.values()]:
        resolve(spec)


def _load_schemas(index: AppIndex, problems: list[Problem]) -> None:
    """Load the schema of every Type that has instances (and of its ancestors)."""
    needed = {s.type_spec.full_name: s.type_spec for s in _instances(index) if s.type_spec is not None}
    for spec in needed.values():
        schema_of(index, spec, problems)


def schema_of(index: AppIndex, spec: ElementSpec, problems: list[Problem]) -> ElementSchema | None:
    """Return the schema a Type gives its instances (loading it once), or None after a problem."""
    cached = index.schemas.get(spec.full_name)
    if cached is not None:
        return cached
    inherited: ElementSchema | None = None
    # An element without schema.py takes the schema of what it overrides, else of its type.
    source = next((s for s in spec.override_chain() if SCHEMA_FILE in s.files), None)
    if source is None and spec.type_spec is not None:
        inherited = schema_of(index, spec.type_spec, problems)
    if source is not None:
        schema = _import_schema(source, problems)
        if schema is None:
            return None
    elif inherited is not None:
        schema = inherited
    else:
        schema = ElementSchema(Declaration, AnyConfig, "default")
    index.schemas[spec.full_name] = schema
    return schema



def _import_schema(spec: ElementSpec, problems: list[Problem]) -> ElementSchema | None:
    """Load a Type's schema.py on its own (without the Type's package) and read its models."""
    path = os.path.join(spec.folder, SCHEMA_FILE)
    name = f"{spec.module_name}.{SCHEMA_FILE[:-3]}"
    try:
        module = sys.modules.get(name) or _exec_module(name, path)
    except Exception as exc:  # any error in user code becomes a reported problem
        problems.append(Problem(spec.full_name, path, f"{type(exc).__name__} while loading the schema: {exc}",
                                "fix the Python error; schema.py must use absolute imports only"))
        return None
    config = getattr(module, "Config", None)
    declaration = getattr(module, "Declaration", Declaration)
    if not (isinstance(config, type) and issubclass(config, BaseModel)):
        problems.append(Problem(spec.full_name, path, "schema.py defines no pydantic model named Config",
                                "define `class Config(jitlite.runtime.schema.ConfigModel): ...`"))
        return None
    if not (isinstance(declaration, type) and issubclass(declaration, Declaration)):
        problems.append(Problem(spec.full_name, path, "Declaration in schema.py does not extend "
                                "jitlite.runtime.schema.Declaration", "subclass jitlite.runtime.schema.Declaration"))
        return None
    return ElementSchema(declaration, config, path)


def _exec_module(name: str, path: str) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _instances(index: AppIndex) -> list[ElementSpec]:
    return [s for s in index.visible.values() if s.kind == "instance"]


def _validate_instances(index: AppIndex, problems: list[Problem]) -> None:
    """Fill placeholders and validate each instance's e.json and business config."""
    context = {"type_chain": lambda name: _reference_chain(index, name),
               "suggest": lambda n: suggest(n, list(index.visible))}
    for spec in _instances(index):
        assert spec.type_spec is not None
        schema = index.schemas.get(spec.type_spec.full_name)
        if schema is None:
            continue  # its Type's schema failed to load; already reported
        raw_decl, raw_config = spec.raw_declaration, spec.raw_config
        if spec.placeholders:
            try:
                raw_decl = fill_placeholders(raw_decl, index.variables)
                raw_config = fill_placeholders(raw_config, index.variables)
            except MissingVariable as missing:
                if not index.variables_incomplete:  # else jitlite.toml may hold it: its problem stands alone
                    path = spec.declaration_path if raw_decl is spec.raw_declaration else spec.config_path
                    problems.append(_missing_variable_problem(index, spec, path or spec.folder, missing))
                continue
        declaration: Declaration | None = spec.declaration
        if schema.declaration is not Declaration or raw_decl is not spec.raw_declaration:
            try:
                declaration = schema.declaration.model_validate(raw_decl, context=context)
            except ValidationError as exc:
                problems.extend(validation_problems(spec.full_name, spec.declaration_path, exc,
                                                    schema.declaration))
                declaration = None
        config = _validate_config(spec, schema, raw_config, context, problems)
        if declaration is not None and config is not None:
            index.validated[spec.full_name] = Validated(declaration, config)


class _AnyTypes(list[str]):
    """The type chain of an element that a reported problem kept from loading: any type may be right."""

    def __contains__(self, item: object) -> bool:
        return True


def _reference_chain(index: AppIndex, full_name: str) -> list[str] | None:
    """Return the type chain that reference checks (``schema.refers_to``) see for a fullName.

    A reference to an element that could not be read is let through: the element's own problem
    is the one to report, not a follow-on "not an element of this app".
    """
    chain = index.type_chain(full_name)
    if chain is None and index.hidden_by_problem(full_name):
        return _AnyTypes()
    return chain


def _validate_config(
    spec: ElementSpec, schema: ElementSchema, raw_config: Any, context: dict[str, Any], problems: list[Problem]
) -> BaseModel | None:
    if spec.config_path is None:
        if schema.config_required:
            expected = os.path.join(spec.folder, f"{spec.name}.json")
            problems.append(Problem(spec.full_name, expected, "the business config file is missing",
                                    f"create {spec.name}.json (or config.json) in the element folder; "
                                    f"`jitlite new {spec.type_name} {spec.full_name}` writes a skeleton"))
            return None
        raw_config = {}
    if not isinstance(raw_config, dict):
        problems.append(Problem(spec.full_name, spec.config_path or spec.folder,
                                "the business config must be a JSON object", "write it as {\"field\": value, …}"))
        return None
    try:
        return schema.config.model_validate(raw_config, context=context)
    except ValidationError as exc:
        problems.extend(validation_problems(spec.full_name, spec.config_path or spec.folder, exc, schema.config))
        return None


def _missing_variable_problem(index: AppIndex, spec: ElementSpec, path: str, missing: MissingVariable) -> Problem:
    toml = index.root / "jitlite.toml"
    if missing.declared:
        message = f"variable {missing.name!r} has no value"
    else:
        message = f"placeholder {{{{{missing.name}}}}} names a variable that is not declared and has no value"
    fix = (f"set {missing.name} in the environment or under [variables] in {toml}, "
           f"or declare it with a default in app.json \"variables\"")
    return Problem(spec.full_name, path, message, fix, where=f"{{{{{missing.name}}}}}")
