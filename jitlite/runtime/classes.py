"""Find the class an element's code provides: its ``className``, or JitAi's same-name export.

JitAi's convention: an element folder's ``__init__.py`` exports a class named like the folder
(``services/MyBusinessService/__init__.py`` holds ``from .service import MyBusinessService``), and
e.json needs no ``className``. ``className`` ("Name", or "package.module:Name") still wins when given.

A Type (or Meta) whose instances must bring code says ``"requiresInstanceClass": true`` in its e.json
(services and models do). Such an instance without either form is reported at start-up: the
``__init__.py`` is read, not run (``exported_names``), so an export that only running the code would
reveal (``from .x import *``, a module ``__getattr__``) is taken on trust until the class is imported.
"""

from __future__ import annotations

import ast
import importlib
import os

from .errors import ElementBuildError, Problem
from .files import FileRefused, read_small_file
from .layers import ElementSpec

__all__ = [
    "INIT_FILE",
    "exported_class",
    "import_class_name",
    "missing_class_problem",
    "missing_class_text",
]

INIT_FILE = "__init__.py"


def import_class_name(spec: ElementSpec) -> type:
    """Import the class named by an element's ``className`` ("Name" or "package.module:Name")."""
    class_name = spec.declaration.className or ""
    module_name, _, attr = class_name.rpartition(":")
    if not module_name:
        module_name, attr = spec.module_name, class_name
    module = _import(spec, module_name)
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ElementBuildError(f"{spec.full_name}: className {class_name!r} names no class in {module_name}; "
                                f"define it there or correct className in {spec.declaration_path}")
    return cls


def exported_class(spec: ElementSpec) -> type | None:
    """Import the element's package and return the class it exports under the folder's name, if any."""
    module = _import(spec, spec.module_name)
    found = getattr(module, spec.name, None)
    if found is None:
        return None
    if not isinstance(found, type):
        raise ElementBuildError(f"{spec.full_name}: {os.path.join(spec.folder, INIT_FILE)} exports {spec.name!r}, "
                                f"but it is a {type(found).__name__}, not a class; export the element's class under "
                                "that name, or name the class in e.json's className")
    return found


def _import(spec: ElementSpec, module_name: str) -> object:
    try:
        return importlib.import_module(module_name)
    except Exception as exc:
        raise ElementBuildError(f"{spec.full_name}: importing {module_name} failed: {type(exc).__name__}: {exc} "
                                f"(in {spec.folder})") from exc


def missing_class_text(spec: ElementSpec, type_name: str) -> tuple[str, str]:
    """Return the message and fix for an instance of a code-bearing Type that provides no class."""
    init = os.path.join(spec.folder, INIT_FILE)
    where = f"{init} exports no class named {spec.name!r}" if INIT_FILE in spec.files else f"it has no {INIT_FILE}"
    message = (f"instances of {type_name} bring their own class, but e.json names no className and {where}")
    module = next((f[:-3] for f in ("service.py", "model.py") if f in spec.files), None)
    if module is None:
        module = next((f[:-3] for f in sorted(spec.files) if f.endswith(".py") and f != INIT_FILE), None)
    export = (f"write `from .{module} import {spec.name}` in {INIT_FILE}" if module
              else f"define class {spec.name} in {INIT_FILE}")
    return message, f"{export} (JitAi's convention), or name the class in e.json's className"


def missing_class_problem(spec: ElementSpec, type_name: str) -> Problem | None:
    """Return the start-up problem of an instance that must bring a class and visibly does not, else None."""
    for own in spec.override_chain():
        if own.declaration.className:
            return None
        if INIT_FILE in own.files:
            path = os.path.join(own.folder, INIT_FILE)
            try:
                names = exported_names(path)
            except SyntaxError as exc:
                return Problem(own.full_name, path, f"invalid Python: {exc.msg}", "correct the syntax",
                               where=f"line {exc.lineno}")
            except (OSError, FileRefused, UnicodeDecodeError):
                return None  # reading it is the import's business: its error names the cause
            if names is None or own.name in names:
                return None
    message, fix = missing_class_text(spec, type_name)
    return Problem(spec.full_name, spec.declaration_path, message, fix, where="className")


def exported_names(path: str) -> set[str] | None:
    """Return the names an ``__init__.py`` binds at module level, or None when reading cannot tell."""
    tree = ast.parse(read_small_file(path).decode("utf-8"), filename=path)
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.partition(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            # Conditional or guarded definitions count: whichever branch runs may bind the name.
            pending.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    pending.extend(handler.body)
    return names
