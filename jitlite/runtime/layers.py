"""Layers: the official elements, the apps an app extends, the app itself; and their discovery."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Problem
from .files import FileRefused, inside, load_json, parse_json, read_small_file
from .names import is_identifier, misspelling_of
from .reporting import json_problem, refused_problem, validation_problems
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
# The fields every e.json may hold; a key one edit away from one of them is taken for a misspelling.
STANDARD_FIELDS = frozenset(Declaration.model_fields)
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
    # e.json keys that look like misspelt standard fields; a problem unless the Type declares them.
    suspect_keys: dict[str, str] = field(default_factory=dict)
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
    """Read and validate ``app.json`` in root; a misspelt key is a problem, the manifest is kept."""
    path = root / MANIFEST
    label = f"app {root.name}"
    try:
        data = load_json(path)
    except FileNotFoundError:
        return None, [
            Problem(label, str(path), "there is no app.json here, so this folder is not a jitlite app",
                    'create app.json with at least {"appId": "myApp", "title": "My app"}')
        ]
    except FileRefused as exc:
        return None, [refused_problem(label, str(path), exc)]
    except json.JSONDecodeError as exc:
        return None, [json_problem(label, str(path), exc)]
    if not isinstance(data, dict):
        return None, [Problem(label, str(path), "app.json must hold a JSON object",
                              'write it as {"appId": "myApp", "title": "My app"}')]
    typos = misspelt_keys(data, AppManifest.model_fields)
    try:
        manifest = AppManifest.model_validate(data)
    except ValidationError as exc:
        explained = explained_problems(label, str(path), exc, AppManifest, typos)
        # app.json has no extras of a Type to wait for: every misspelt key is reported now.
        unexplained = {k: v for k, v in typos.items() if not any(p.where == k for p in explained)}
        return None, typo_problems(label, str(path), unexplained) + explained
    return manifest, typo_problems(label, str(path), typos)


def misspelt_keys(data: dict[str, Any], known: Iterable[str]) -> dict[str, str]:
    """Return the keys of data that are likely misspellings of known names, each with the name meant."""
    names = known if isinstance(known, (frozenset, set, dict)) else frozenset(known)
    found = {}
    for key in data:
        meant = misspelling_of(key, names) if isinstance(key, str) and key not in names else None
        if meant is not None:
            found[key] = meant
    return found


def typo_problems(label: str, path: str, typos: dict[str, str], extra_hint: bool = False) -> list[Problem]:
    """Return one problem per misspelt key; with extra_hint, say how a Type makes such a key its own."""
    hint = " (a Type whose instances need {key!r} declares it in its schema.py Declaration)" if extra_hint else ""
    return [Problem(label, path, f"unknown field {key!r}", f"did you mean {meant!r}?{hint.format(key=key)}", where=key)
            for key, meant in typos.items()]


def explained_problems(
    label: str, path: str, exc: ValidationError, model: type[BaseModel], typos: dict[str, str]
) -> list[Problem]:
    """Report validation errors, letting a misspelt key stand in for the missing field it meant.

    Only typos that explain a missing field are reported here: the others may still be keys the
    element's Type declares, which is known only once its schema is loaded.
    """
    missing = {str(e["loc"][0]) for e in exc.errors(include_url=False, include_input=False)
               if e["type"] == "missing" and len(e["loc"]) == 1}
    explaining = {key: meant for key, meant in typos.items() if meant in missing}
    explained = set(explaining.values())
    rest = [p for p in validation_problems(label, path, exc, model)
            if not (p.where in explained and p.message.startswith("required field"))]
    return typo_problems(label, path, explaining) + rest


def resolve_layers(app_root: Path) -> tuple[list[Layer], list[Problem], bool]:
    """Return the layers of the app at app_root, lowest first, any problems, and whether all could be read."""
    problems: list[Problem] = []
    complete = True
    ordered: list[Layer] = []
    seen: dict[Path, Layer] = {}

    def visit(root: Path, trail: tuple[Path, ...]) -> None:
        nonlocal complete
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
            complete = False
            return
        for entry in manifest.extends:
            target = (root / entry).resolve()
            if not os.path.lexists(target / MANIFEST):
                complete = False
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
    return layers, problems, complete


def discover(layer: Layer, *, allow_external_symlinks: bool = False) -> tuple[list[ElementSpec], list[Problem]]:
    """Find every element folder of a layer and read its e.json and business config.

    Symlinks are followed when they stay inside the layer's folder (or anywhere, with
    ``allow_external_symlinks``, and always for the official layer); a symlink loop, a folder link
    that leads back to a folder being walked, or a link leaving the app folder is a problem.
    """
    specs: list[ElementSpec] = []
    problems: list[Problem] = []
    reported_links: set[str] = set()  # a loop is met from each of its folders: report each link once
    root_real = os.path.realpath(layer.root)
    confined = not (layer.is_official or allow_external_symlinks)
    # (folder, fullName, its real path, the real paths of the folders walked to reach it)
    stack: list[tuple[str, str, str, frozenset[str]]] = [(str(layer.root), "", root_real, frozenset({root_real}))]
    while stack:
        folder, full_name, real, trail = stack.pop()
        label = full_name or f"app {layer.name}"
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError as exc:
            problems.append(Problem(label, folder, f"cannot read this folder: {exc.strerror}",
                                    "check its permissions"))
            continue
        files = []
        regular = set()  # files the listing shows as regular files, not links (no stat needed to trust them)
        subfolders = []
        refused = False  # a file of this folder was refused: the element is not read, its problem says why
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            is_link = is_dir = False
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()
            except OSError:
                pass  # a symlink loop, say: the link check below reports it
            if is_dir:
                if name[0] == "_" or name in _SKIPPED_DIRS:
                    continue
                if not is_identifier(name):
                    if os.path.exists(os.path.join(entry.path, DECLARATION)):
                        problems.append(Problem(
                            f"{full_name + '.' if full_name else ''}{name}", entry.path,
                            f"folder name {name!r} cannot be part of an element fullName",
                            "rename the folder to letters, digits and '_' only, not starting with a digit"))
                    continue
                child_real = os.path.join(real, name)
                if is_link:
                    child_real = os.path.realpath(entry.path)
                    link = os.path.join(real, name)  # where the link really is, however the walk got there
                    problem = _link_problem(label, link, child_real, root_real, confined)
                    if problem is None and child_real in trail:
                        problem = Problem(label, link,
                                          f"is a symlink to {child_real}, a folder that contains it: a folder loop",
                                          "remove the link, or point it at a folder outside this one")
                    if problem is not None:
                        if link not in reported_links:
                            reported_links.add(link)
                            problems.append(problem)
                        continue
                subfolders.append((entry.path, name, child_real))
            elif full_name:  # files beside app.json are not element files; jitlite reads only app.json there
                if is_link:
                    problem = _link_problem(label, entry.path, None, root_real, confined)
                    if problem is not None:
                        problems.append(problem)
                        refused = True
                        continue
                elif entry.is_file(follow_symlinks=False):
                    regular.add(name)
                files.append(name)
            elif is_link and is_identifier(name):  # beside app.json: a would-be element folder that loops
                problem = _link_problem(label, entry.path, None, root_real, confined=False)
                if problem is not None:
                    problems.append(problem)
        if full_name and DECLARATION in files and not refused:
            spec = _read_element(layer, full_name, folder, frozenset(files), regular, problems)
            if spec is not None:
                specs.append(spec)
        for path, name, child_real in subfolders:
            stack.append((path, f"{full_name}.{name}" if full_name else name, child_real, trail | {child_real}))
    problems.extend(_case_duplicates(specs))
    return specs, problems


def _link_problem(label: str, path: str, target: str | None, root_real: str, confined: bool) -> Problem | None:
    """Return the problem with a symlink in an element tree (a loop, or a way out of the app), if any."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(label, path, "is a symlink loop: following it never reaches a file or folder",
                           "remove the link, or point it at a real file or folder")
        return None  # a broken link is a problem only if jitlite has to read it
    target = target or os.path.realpath(path)
    if confined and not inside(target, root_real):
        return Problem(label, path, f"is a symlink to {target}, outside the app folder {root_real}",
                       "move what it points to into the app folder, or allow such links with "
                       '"settings": {"allowExternalSymlinks": true} in app.json')
    return None


def _read_element(
    layer: Layer, full_name: str, folder: str, files: frozenset[str], regular: set[str], problems: list[Problem]
) -> ElementSpec | None:
    decl_path = os.path.join(folder, DECLARATION)
    read, raw_decl, placeholders = _read_json(full_name, decl_path, DECLARATION in regular, problems)
    if not read:
        return None
    if not isinstance(raw_decl, dict):
        problems.append(Problem(full_name, decl_path, "e.json must hold a JSON object",
                                'write it as {"title": "…", "type": "…"}'))
        return None
    typos = misspelt_keys(raw_decl, STANDARD_FIELDS)
    try:
        declaration = Declaration.model_validate(raw_decl)
    except ValidationError as exc:
        problems.extend(explained_problems(full_name, decl_path, exc, Declaration, typos))  # e.g. "titel"
        return None
    spec = ElementSpec(full_name, folder, layer, raw_decl, declaration, files, placeholders=placeholders,
                       suspect_keys=typos)
    name = spec.name
    config_name = f"{name}.json" if f"{name}.json" in files else CONFIG_FALLBACK if CONFIG_FALLBACK in files else None
    if config_name is not None:
        spec.config_path = os.path.join(folder, config_name)
        read, raw_config, placeholders = _read_json(full_name, spec.config_path, config_name in regular, problems)
        if not read:
            return None
        spec.raw_config = raw_config
        spec.placeholders = spec.placeholders or placeholders
    return spec


def _read_json(full_name: str, path: str, listed_regular: bool, problems: list[Problem]) -> tuple[bool, Any, bool]:
    """Return (read, data, whether it holds placeholders) for an element's JSON file; report any problem."""
    try:
        text = read_small_file(path, listed_regular=listed_regular)
        return True, parse_json(text), b"{{" in text
    except FileNotFoundError:
        problems.append(Problem(full_name, path, "disappeared while the app was being read", "run again"))
    except FileRefused as exc:
        problems.append(refused_problem(full_name, path, exc))
    except json.JSONDecodeError as exc:
        problems.append(json_problem(full_name, path, exc))
    return False, None, False


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
