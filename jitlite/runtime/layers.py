"""Layers: the official elements, the apps an app extends, the app itself; and their discovery."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Problem
from .names import is_identifier
from .reporting import json_problem, validation_problems
from .schema import Declaration, NonEmptyStr, VariableDecl

__all__ = [
    "OFFICIAL_PACKAGE",
    "AppManifest",
    "ElementSpec",
    "Layer",
    "discover",
    "official_layer",
    "resolve_layers",
]

OFFICIAL_PACKAGE = "jitlite.types"
OFFICIAL_ROOT = Path(__file__).resolve().parent.parent / "types"
LAYER_PACKAGE_PREFIX = "jitlite._layers"
MANIFEST = "app.json"
DECLARATION = "e.json"
CONFIG_FALLBACK = "config.json"
# Folders never searched for elements: data, caches, tooling.
_SKIPPED_DIRS = frozenset({"appData", "node_modules"})


class AppManifest(BaseModel):
    """An app's ``app.json``."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    appId: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    title: NonEmptyStr
    version: str = "0.0.0"
    extends: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    variables: list[VariableDecl] = Field(default_factory=list)


@dataclass(eq=False)
class Layer:
    """One source of elements; a higher level overrides a lower one."""

    name: str
    root: Path
    package: str
    level: int = 0
    manifest: AppManifest | None = None

    @property
    def is_official(self) -> bool:
        """Tell whether this layer ships inside the jitlite package."""
        return self.manifest is None

    def __repr__(self) -> str:
        return f"<Layer {self.name} {self.root}>"


@dataclass(eq=False)
class ElementSpec:
    """An element found on disk: its name, folder, layer and declaration."""

    full_name: str
    folder: str
    layer: Layer
    raw_declaration: dict[str, Any]
    declaration: Declaration
    files: frozenset[str]
    config_path: str | None = None
    raw_config: Any = None
    overrides: ElementSpec | None = None
    placeholders: bool = False  # whether e.json or the business config holds "{{…}}"
    kind: str = ""  # "meta", "type" or "instance", set when the index resolves types
    type_spec: ElementSpec | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Return the last segment of the fullName (the folder name)."""
        return self.full_name.rpartition(".")[2]

    @property
    def module_name(self) -> str:
        """Return the Python module that holds this element's code."""
        return f"{self.layer.package}.{self.full_name}"

    @property
    def declaration_path(self) -> str:
        """Return the path of the element's e.json."""
        return os.path.join(self.folder, DECLARATION)

    @property
    def type_name(self) -> str:
        """Return the fullName in the declaration's ``type``."""
        return self.declaration.type

    def override_chain(self) -> list[ElementSpec]:
        """Return this spec and the lower-layer definitions it overrides, highest first."""
        chain = [self]
        current = self.overrides
        while current is not None:
            chain.append(current)
            current = current.overrides
        return chain

    def __repr__(self) -> str:
        return f"<ElementSpec {self.full_name} ({self.layer.name})>"


def official_layer() -> Layer:
    """Return the layer of elements shipped inside the jitlite package."""
    return Layer(name="official", root=OFFICIAL_ROOT, package=OFFICIAL_PACKAGE, level=0)


def _layer_package(manifest: AppManifest, root: Path) -> str:
    digest = hashlib.sha1(str(root).encode("utf-8")).hexdigest()[:8]
    return f"{LAYER_PACKAGE_PREFIX}.{manifest.appId}_{digest}"


def read_manifest(root: Path) -> tuple[AppManifest | None, list[Problem]]:
    """Read and validate ``app.json`` in root."""
    path = root / MANIFEST
    label = f"app {root.name}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [
            Problem(label, str(path), "there is no app.json here, so this folder is not a jitlite app",
                    'create app.json with at least {"appId": "myApp", "title": "My app"}')
        ]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [json_problem(label, str(path), exc)]
    try:
        return AppManifest.model_validate(data), []
    except ValidationError as exc:
        return None, validation_problems(label, str(path), exc, AppManifest)


def resolve_layers(app_root: Path) -> tuple[list[Layer], list[Problem]]:
    """Return the layers of the app at app_root, lowest first, and any problems."""
    problems: list[Problem] = []
    ordered: list[Layer] = []
    seen: dict[Path, Layer] = {}

    def visit(root: Path, trail: tuple[Path, ...]) -> None:
        if root in trail:
            cycle = " → ".join(str(p) for p in (*trail[trail.index(root):], root))
            problems.append(Problem(f"app {root.name}", str(root / MANIFEST),
                                    f"'extends' forms a cycle: {cycle}", "remove one of the extends entries"))
            return
        if root in seen:
            return
        manifest, found = read_manifest(root)
        problems.extend(found)
        if manifest is None:
            return
        for entry in manifest.extends:
            target = (root / entry).resolve()
            if not (target / MANIFEST).is_file():
                problems.append(Problem(
                    f"app {manifest.appId}", str(root / MANIFEST),
                    f"extends {entry!r}, but {target} holds no app.json",
                    "give the path of an app folder, relative to this app.json",
                    where="extends"))
                continue
            visit(target, (*trail, root))
        layer = Layer(name=manifest.appId, root=root, package=_layer_package(manifest, root), manifest=manifest)
        seen[root] = layer
        ordered.append(layer)

    visit(app_root, ())
    layers = [official_layer(), *ordered]
    for level, layer in enumerate(layers):
        layer.level = level
    return layers, problems


def discover(layer: Layer) -> tuple[list[ElementSpec], list[Problem]]:
    """Find every element folder of a layer and read its e.json and business config."""
    specs: list[ElementSpec] = []
    problems: list[Problem] = []
    stack: list[tuple[str, str]] = [(str(layer.root), "")]
    while stack:
        folder, full_name = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError as exc:
            problems.append(Problem(full_name or layer.name, folder, f"cannot read this folder: {exc.strerror}",
                                    "check its permissions"))
            continue
        files = []
        subfolders = []
        for entry in entries:
            if entry.is_dir():
                subfolders.append(entry)
            else:
                files.append(entry.name)
        if full_name and DECLARATION in files:
            spec = _read_element(layer, full_name, folder, frozenset(files), problems)
            if spec is not None:
                specs.append(spec)
        for entry in subfolders:
            name = entry.name
            if name[0] in "._" or name in _SKIPPED_DIRS:
                continue
            if not is_identifier(name):
                if os.path.exists(os.path.join(entry.path, DECLARATION)):
                    problems.append(Problem(
                        f"{full_name + '.' if full_name else ''}{name}", entry.path,
                        f"folder name {name!r} cannot be part of an element fullName",
                        "rename the folder to letters, digits and '_' only, not starting with a digit"))
                continue
            stack.append((entry.path, f"{full_name}.{name}" if full_name else name))
    problems.extend(_case_duplicates(specs))
    return specs, problems


def _read_element(
    layer: Layer, full_name: str, folder: str, files: frozenset[str], problems: list[Problem]
) -> ElementSpec | None:
    decl_path = os.path.join(folder, DECLARATION)
    try:
        with open(decl_path, "rb") as handle:
            text = handle.read()
        raw_decl = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(json_problem(full_name, decl_path, exc))
        return None
    if not isinstance(raw_decl, dict):
        problems.append(Problem(full_name, decl_path, "e.json must hold a JSON object",
                                'write it as {"title": "…", "type": "…"}'))
        return None
    try:
        declaration = Declaration.model_validate(raw_decl)
    except ValidationError as exc:
        problems.extend(validation_problems(full_name, decl_path, exc, Declaration))
        return None
    spec = ElementSpec(full_name, folder, layer, raw_decl, declaration, files, placeholders=b"{{" in text)
    name = spec.name
    config_name = f"{name}.json" if f"{name}.json" in files else CONFIG_FALLBACK if CONFIG_FALLBACK in files else None
    if config_name is not None:
        spec.config_path = os.path.join(folder, config_name)
        try:
            with open(spec.config_path, "rb") as handle:
                text = handle.read()
            spec.raw_config = json.loads(text)
            spec.placeholders = spec.placeholders or b"{{" in text
        except json.JSONDecodeError as exc:
            problems.append(json_problem(full_name, spec.config_path, exc))
            return None
    return spec


def _case_duplicates(specs: list[ElementSpec]) -> list[Problem]:
    """Report fullNames of one layer that differ only in letter case (one folder on macOS/Windows)."""
    by_folded: dict[str, ElementSpec] = {}
    problems = []
    for spec in sorted(specs, key=lambda s: s.full_name):
        other = by_folded.setdefault(spec.full_name.casefold(), spec)
        if other is not spec:
            problems.append(Problem(
                spec.full_name, spec.folder,
                f"defined twice in layer {spec.layer.name!r}: also as {other.full_name} in {other.folder}",
                "keep one of the two folders; fullNames that differ only in case are one element "
                "on case-insensitive file systems"))
    return problems
