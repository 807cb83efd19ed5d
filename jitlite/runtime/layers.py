"""Layers: the official elements, the apps an app extends, the app itself; and their discovery."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import Problem
from .files import FileRefused, inside, load_json, parse_json, read_small_file
from .names import is_identifier, misspelling_of
from .reporting import json_problem, refused_problem, validation_problems
from .schema import Declaration, NonEmptyStr, VariableDecl, invalid

__all__ = [
    "APPS_PATH_VARIABLE",
    "APP_ID_PATTERN",
    "OFFICIAL_PACKAGE",
    "AppManifest",
    "ElementSpec",
    "ExtendsEntry",
    "Layer",
    "app_search_path",
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
#: The environment variable listing folders where extended apps are looked for (after the app's parent folder).
APPS_PATH_VARIABLE = "JITLITE_APPS_PATH"
# The fields every e.json may hold; a key one edit away from one of them is taken for a misspelling.
STANDARD_FIELDS = frozenset(Declaration.model_fields)
# Folders never searched for elements: data, caches, tooling.
_SKIPPED_DIRS = frozenset({"appData", "node_modules"})


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
#: ``myApp``, or JitAi's ``orgId.appName`` (``wanyun.MyApp``).
APP_ID_PATTERN = rf"^{_IDENT}(?:\.{_IDENT})?$"


class ExtendsEntry(BaseModel):
    """An app named in ``extends``: JitAi's ``{"appId": "wanyun.BaseApp", "version": "1.0.0"}``, or a folder path.

    A plain string is the path of the app's folder, relative to the app.json naming it.
    """

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    appId: str | None = Field(None, pattern=APP_ID_PATTERN)
    version: str | None = None
    path: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _names_an_app(self) -> ExtendsEntry:
        if self.appId is None and self.path is None:
            raise invalid("names no app: an extends entry needs \"appId\"",
                          'write it as {"appId": "wanyun.BaseApp", "version": "1.0.0"}')
        return self

    def written(self) -> str | dict[str, Any]:
        """Return the entry as app.json holds it."""
        return self.path if self.path is not None else self.model_dump(exclude_none=True)

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        return f"{self.appId}@{self.version}" if self.version else str(self.appId)


class AppManifest(BaseModel):
    """An app's ``app.json``: jitlite's keys and JitAi's (``name``, ``orgId``, ``icon``, ``files``, …)."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    appId: str = Field(pattern=APP_ID_PATTERN)
    title: NonEmptyStr
    name: str | None = None
    orgId: str | None = Field(None, pattern=rf"^{_IDENT}$")
    version: str = "0.0.0"
    icon: str | None = None
    encrypted: bool = False
    files: list[Any] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    extends: list[ExtendsEntry] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    variables: list[VariableDecl] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _title_from_name(cls, data: Any) -> Any:
        """Take JitAi's ``name`` as the title when app.json has no ``title``."""
        if isinstance(data, dict) and "title" not in data and isinstance(data.get("name"), str) and data["name"]:
            return {**data, "title": data["name"]}
        return data

    @property
    def org_id(self) -> str | None:
        """Return the organisation: ``orgId``, else the part of a dotted appId before the dot."""
        if self.orgId:
            return self.orgId
        return self.appId.partition(".")[0] if "." in self.appId else None

    @property
    def app_key(self) -> str:
        """Return JitAi's runtime key of the app: ``appId@version`` (``wanyun.MyApp@1.0.0``)."""
        return f"{self.appId}@{self.version}"


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


def _layer_package(manifest: AppManifest, root: Path, top: Path) -> str:
    """Return the package an app layer's element code is imported as.

    The app's own layer is keyed by its folder; a layer it extends by that folder and the app's,
    so that each app loads its own copy of an extended app's code, whose imports resolve through
    that app's layers.
    """
    key = str(root) if root == top else f"{root}|{top}"
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:8]
    return f"{LAYER_PACKAGE_PREFIX}.{manifest.appId.replace('.', '_')}_{digest}"


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
    return manifest, typo_problems(label, str(path), typos) + _manifest_problems(manifest, label, str(path))


def _manifest_problems(manifest: AppManifest, label: str, path: str) -> list[Problem]:
    """Return what is wrong in a valid app.json as a whole: an orgId the appId contradicts, encryption."""
    problems = []
    if manifest.orgId and "." in manifest.appId and manifest.appId.partition(".")[0] != manifest.orgId:
        problems.append(Problem(label, path, f"orgId {manifest.orgId!r} is not the organisation of appId "
                                f"{manifest.appId!r}", f"write appId as {manifest.orgId}.<appName>, or correct orgId",
                                where="orgId"))
    if manifest.encrypted:
        problems.append(Problem(label, path, "the app's files are marked as encrypted; jitlite reads only plain "
                                "source files", 'export the app\'s source code unencrypted and set "encrypted": false',
                                where="encrypted"))
    return problems


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


def app_search_path(app_root: Path, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Return the folders an app's ``extends`` entries are looked for in, in order.

    The app's parent folder first, then each folder of ``JITLITE_APPS_PATH`` (separated by
    ``os.pathsep``; relative ones are taken from the working directory).
    """
    environ = os.environ if environ is None else environ
    folders = [app_root.parent]
    for entry in environ.get(APPS_PATH_VARIABLE, "").split(os.pathsep):
        if entry.strip():
            folders.append(Path(entry.strip()).expanduser().resolve())
    return list(dict.fromkeys(folders))


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions as numbers where they are numbers: 1.10.0 after 1.9.0."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[._+-]", version))


class _AppFinder:
    """Find apps by appId (and version) among the folders of an app search path."""

    def __init__(self) -> None:
        self._identity: dict[Path, tuple[str, str] | None] = {}  # app folder -> (appId, version)

    def identity(self, folder: Path) -> tuple[str, str] | None:
        """Return (appId, version) of the app in folder, or None if it holds no readable app.json."""
        if folder not in self._identity:
            found = None
            try:
                data = load_json(folder / MANIFEST)
            except (OSError, FileRefused, ValueError):
                data = None
            if isinstance(data, dict) and isinstance(data.get("appId"), str):
                found = (data["appId"], str(data.get("version") or "0.0.0"))
            self._identity[folder] = found
        return self._identity[folder]

    def candidates(self, folder: Path, app_id: str) -> list[Path]:
        """Return the app folders of one search folder that may hold app_id.

        Its sub-folders, and JitAi's runtime layout ``<orgId>/<appName>/<version>`` for a dotted appId.
        """
        found = []
        try:
            with os.scandir(folder) as scan:
                found = [Path(entry.path) for entry in scan
                         if entry.name[0] not in "._" and entry.name not in _SKIPPED_DIRS and _is_dir(entry)]
        except OSError:
            return []
        org, dot, name = app_id.partition(".")
        if dot:
            versions = folder / org / name
            try:
                with os.scandir(versions) as scan:
                    found.extend(Path(entry.path) for entry in scan if _is_dir(entry))
            except OSError:
                pass
        return sorted(found)

    def find(self, entry: ExtendsEntry, search_path: list[Path]) -> tuple[Path | None, list[tuple[str, Path]]]:
        """Return the folder of the app an entry names (None if absent) and the other versions seen of it.

        The first search folder holding the appId wins; in it, the version asked for, or the highest.
        """
        others: list[tuple[str, Path]] = []
        if entry.appId is None:
            return None, others
        for folder in search_path:
            matches = []
            for candidate in self.candidates(folder, entry.appId):
                identity = self.identity(candidate)
                if identity is not None and identity[0] == entry.appId:
                    matches.append((identity[1], candidate))
            if entry.version is not None:
                exact = [path for version, path in matches if version == entry.version]
                if exact:
                    return exact[0].resolve(), []
                others.extend(matches)
            elif matches:
                return max(matches, key=lambda match: _version_key(match[0]))[1].resolve(), []
        return None, others


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def resolve_layers(
    app_root: Path, environ: Mapping[str, str] | None = None
) -> tuple[list[Layer], list[Problem], bool]:
    """Return the layers of the app at app_root, lowest first, any problems, and whether all could be read.

    An ``extends`` entry is a folder path relative to the app.json naming it, or JitAi's
    ``{"appId", "version"}`` object, found on the app search path of that app (``app_search_path``).
    """
    problems: list[Problem] = []
    complete = True
    ordered: list[Layer] = []
    seen: dict[Path, Layer] = {}
    finder = _AppFinder()

    def locate(root: Path, manifest: AppManifest, position: int, entry: ExtendsEntry) -> Path | None:
        where = f"extends[{position}]"
        if entry.path is not None:
            target = (root / entry.path).resolve()
            if os.path.lexists(target / MANIFEST):
                return target
            problems.append(Problem(
                f"app {manifest.appId}", str(root / MANIFEST),
                f"extends {entry.path!r}, but {target} holds no app.json",
                "give the path of an app folder, relative to this app.json, or JitAi's "
                '{"appId": "org.App", "version": "1.0.0"}', where=where))
            return None
        search_path = app_search_path(root, environ)
        found, others = finder.find(entry, search_path)
        if found is not None:
            return found
        looked = ", ".join(str(folder) for folder in search_path)
        message = f"extends app {str(entry)!r}, which is in no folder of the app search path ({looked})"
        fix = (f"put the app's folder (its app.json has \"appId\": \"{entry.appId}\") in one of those folders, or add "
               f"the folder holding it to {APPS_PATH_VARIABLE} (several separated by {os.pathsep!r})")
        if others:
            seen_versions = ", ".join(f"{version} in {path}" for version, path in others)
            message += f"; other versions are there: {seen_versions}"
            fix = f"extend one of those versions, or {fix}"
        problems.append(Problem(f"app {manifest.appId}", str(root / MANIFEST), message, fix, where=where))
        return None

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
        for position, entry in enumerate(manifest.extends):
            target = locate(root, manifest, position, entry)
            if target is None:
                complete = False
                continue
            visit(target, (*trail, root))
        layer = Layer(name=manifest.appId, root=root, package=_layer_package(manifest, root, app_root),
                      manifest=manifest)
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
