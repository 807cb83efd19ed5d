"""Write a new instance folder whose files start from its Type's schema (``jitlite new``)."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from .index import AppIndex, schema_of
from .layers import ElementSpec
from .schema import Declaration

__all__ = ["scaffold"]

def _placeholder(annotation: Any) -> Any:
    """Return an empty value of the annotation's kind, for the user to fill in."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return typing.get_args(annotation)[0]
    if origin is typing.Annotated:
        return _placeholder(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _placeholder(options[0]) if options else None
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return skeleton_of(annotation)
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, (int, float)):
            return 0
        if issubclass(annotation, (str, SecretStr)):
            return ""
    if origin in (list, tuple, set):
        return []
    if origin is dict:
        return {}
    return ""


_OMIT = object()


def _scaffold_hint(info: FieldInfo) -> Any:
    """Return the field's ``json_schema_extra["scaffold"]``: False omits it, another value is written as is."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and "scaffold" in extra:
        return _OMIT if extra["scaffold"] is False else extra["scaffold"]
    return None


def _value_for(info: FieldInfo) -> Any:
    hint = _scaffold_hint(info)
    if hint is not None:
        return hint
    if info.is_required():
        return _placeholder(info.annotation)
    default = info.get_default(call_default_factory=True)
    return default.model_dump() if isinstance(default, BaseModel) else default


def skeleton_of(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Return a dict with every field of model: defaults as they are, required ones empty."""
    values = {name: _value_for(info) for name, info in model.model_fields.items() if name not in skip}
    return {name: value for name, value in values.items() if value is not _OMIT}


def scaffold(index: AppIndex, type_name: str, full_name: str) -> list[Path]:
    """Create the folder of a new instance of type_name in the app; return the files written."""
    type_spec = index.visible[type_name]
    problems: list[Any] = []
    schema = schema_of(index, type_spec, problems)
    if schema is None:
        raise ValueError("; ".join(p.message for p in problems))
    folder = index.root.joinpath(*full_name.split("."))
    if folder.exists():
        raise FileExistsError(f"{folder} already exists; pick another name or edit the files there")
    name = full_name.rpartition(".")[2]
    declaration: dict[str, Any] = {"title": name, "type": type_name}
    for key, info in schema.declaration.model_fields.items():
        base = Declaration.model_fields.get(key)
        # Keys the Type adds, base keys it makes required, and base keys whose default it changes.
        if key not in declaration and (
            base is None or info.is_required() or info.get_default() != base.get_default()
        ) and _value_for(info) is not _OMIT:
            declaration[key] = _value_for(info)
    if "frontBundleEntry" in declaration and declaration["frontBundleEntry"] == "":
        declaration["frontBundleEntry"] = f"./{name}.json"
    folder.mkdir(parents=True)
    written = [folder / "e.json"]
    written[0].write_text(json.dumps(declaration, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    config = skeleton_of(schema.config)
    if config:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    code = _class_skeleton(type_spec, name)
    if code is not None:
        path = folder / "__init__.py"
        path.write_text(code, encoding="utf-8")
        written.append(path)
    return written


def _class_skeleton(type_spec: ElementSpec, name: str) -> str | None:
    """Return an ``__init__.py`` defining the instance's class, for Types whose instances bring one."""
    chain: list[ElementSpec] = []
    current: ElementSpec | None = type_spec
    while current is not None:
        chain.append(current)
        current = current.type_spec
    if not any(spec.declaration.requiresInstanceClass for spec in chain):
        return None
    named = next((spec for spec in chain if spec.declaration.className), None)
    if named is None:
        return None
    module, _, base = str(named.declaration.className).rpartition(":")
    # JitAi's convention: the folder's __init__.py exports a class named like the folder.
    return (f"from {module or named.full_name} import {base}\n\n\n"
            f"class {name}({base}):\n"
            f'    """The class of the {name} element."""\n')
