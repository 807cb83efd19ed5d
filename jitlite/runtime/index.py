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

from .errors import ElementLoadError, Problem
from .files import FileRefused
from .layers import MANIFEST, ElementSpec, Layer, discover, resolve_layers, typo_problems
from .names import suggest
from .reporting import validation_problems
from .schema import Declaration, VariableDecl
from .settings import setting_problems
from .variables import (
    SECRET_KEY_VARIABLE,
    TOML_NAME,
    LocalSettings,
    MissingVariable,
    VariableSet,
    fill_placeholders,
    key_from_file,
    read_toml,
    secret_key_problem,
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
        """Return settings: app.json ``settings`` of each layer, then jitlite.toml ``[settings]``."""
        merged: dict[str, Any] = {}
        for layer in self.layers:
            if layer.manifest is not None:
                merged.update(layer.manifest.settings)
        merged.update(self.local.settings)
        return merged

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
    layers, problems, complete = resolve_layers(root)
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
    for layer in index.layers:
        if layer.manifest is not None:
            problems.extend(setting_problems(layer.manifest.settings, f"app {layer.name}",
                                             str(layer.root / MANIFEST)))
    problems.extend(setting_problems(index.local.settings, f"app {index.app_layer.name}",
                                     str(index.root / TOML_NAME)))


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
    key_origin = (str(index.root / TOML_NAME), f"variables.{SECRET_KEY_VARIABLE}")
    key_file = index.settings.get("secretKeyFile")
    if isinstance(key_file, str) and key_file and not environ.get(SECRET_KEY_VARIABLE) \
            and not local.get(SECRET_KEY_VARIABLE):
        # The app opted in (settings.secretKeyFile): keep a generated key beside its data.
        key_path = index.root / key_file
        key_origin = (str(key_path), "")
        try:
            local[SECRET_KEY_VARIABLE] = key_from_file(key_path)
        except FileRefused as exc:
            problems.append(Problem(f"app {index.app_layer.name}", str(key_path), exc.message, exc.fix))
        except OSError as exc:
            problems.append(Problem(f"app {index.app_layer.name}", str(key_path),
                                    f"the key file cannot be read or created: {exc.strerror}",
                                    "check the permissions of the file and its folder"))
    index.variables = VariableSet(declarations, local, environ)
    _check_secret_key(index, environ, local, key_origin, problems)
    if index.variables_incomplete:
        return  # jitlite.toml could not be read: a variable it may hold is not reported as missing
    for name in index.variables.missing_required():
        label, path = origins.get(name, (f"app {index.app_layer.name}", str(index.root / "app.json")))
        fix = f"set {name} in the environment, or under [variables] in {index.root / 'jitlite.toml'}"
        if name == SECRET_KEY_VARIABLE:
            fix += " (make a key with `jitlite keygen`)"
        problems.append(Problem(label, path, f"required variable {name!r} has no value", fix,
                                where=f"variables.{name}"))


def _check_secret_key(index: AppIndex, environ: Mapping[str, str], local: Mapping[str, str],
                      local_origin: tuple[str, str], problems: list[Problem]) -> None:
    """Fail start-up, not the first encryption, when JITLITE_SECRET_KEY is set but holds no valid Fernet key."""
    key = index.variables.values.get(SECRET_KEY_VARIABLE) or environ.get(SECRET_KEY_VARIABLE)
    wrong = secret_key_problem(key) if key else None
    if wrong is None:
        return
    if environ.get(SECRET_KEY_VARIABLE) == key:
        path, where = f"the environment variable {SECRET_KEY_VARIABLE}", ""
    elif local.get(SECRET_KEY_VARIABLE) == key:
        path, where = local_origin
    else:
        path, where = str(index.root / MANIFEST), f"variables.{SECRET_KEY_VARIABLE}"
    problems.append(Problem(f"app {index.app_layer.name}", path, wrong,
                            f"make a key with `jitlite keygen` and set {SECRET_KEY_VARIABLE} to it (while rotating: "
                            "the new key first, then the old ones, separated by commas)", where=where))


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
