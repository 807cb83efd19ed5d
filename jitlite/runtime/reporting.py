"""Turn JSON and pydantic errors into Problems that say where, what and how to fix."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import Problem
from .files import FileRefused
from .names import suggest
from .schema import NON_EMPTY_PATTERN

__all__ = [
    "PATTERN_HINTS",
    "format_loc",
    "json_problem",
    "refused_problem",
    "register_pattern_hint",
    "validation_problems",
]

#: What a failed pattern means, and its fix, by pattern: the runtime's own, and those that field
#: types built on it register (``jitlite.wecom.fields`` words its WeCom id pattern).
PATTERN_HINTS: dict[str, tuple[str, str]] = {
    NON_EMPTY_PATTERN: ("must not be empty", "fill in the value"),
}


def register_pattern_hint(pattern: str, message: str, fix: str) -> None:
    """Word the report of a value that does not match pattern: what is wrong, and its fix."""
    PATTERN_HINTS[pattern] = (message, fix)

_TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a JSON list [...]",
    "dict_type": "a JSON object {...}",
    "model_type": "a JSON object {...}",
    "model_attributes_type": "a JSON object {...}",
}


def json_problem(full_name: str, path: str, exc: json.JSONDecodeError) -> Problem:
    """Describe a JSON syntax error with its line and column."""
    return Problem(
        full_name, path, f"invalid JSON: {exc.msg}",
        "correct the JSON syntax (JSON allows no comments, no trailing commas and only double quotes)",
        where=f"line {exc.lineno}, column {exc.colno}",
    )


def refused_problem(full_name: str, path: str, exc: FileRefused) -> Problem:
    """Describe a file jitlite would not read (a FIFO, a device, a symlink loop, too big)."""
    return Problem(full_name, path, exc.message, exc.fix, where=exc.where)


def format_loc(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as ``authConfig.suiteId`` or ``variables[0].name``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _fields_at(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    """Return the field names of the sub-model that a location points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            return []
        current = _model_of(info.annotation)
    return list(getattr(current, "model_fields", {}) or [])


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def validation_problems(
    full_name: str, path: str, exc: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Describe each error of a pydantic ValidationError as a Problem."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        where = format_loc(loc)
        kind = error["type"]
        field = str(loc[-1]) if loc else ""
        ctx = error.get("ctx") or {}
        message = error["msg"]
        if kind == "missing":
            message = f"required field {field!r} is missing"
            fix = f"add \"{field}\" to the file"
        elif kind == "extra_forbidden":
            message = f"unknown field {field!r}"
            close = suggest(field, _fields_at(model, loc[:-1]))
            fix = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else f"remove {field!r}"
        elif kind == "jitlite_invalid":
            message = error["msg"]
            fix = str(ctx.get("fix", ""))
        elif kind in _TYPE_WORDS:
            fix = f"use {_TYPE_WORDS[kind]} here"
        elif kind == "literal_error":
            fix = f"use one of {ctx.get('expected', 'the allowed values')}"
        elif kind == "string_pattern_mismatch":
            message, fix = PATTERN_HINTS.get(str(ctx.get("pattern")), (
                "does not have the expected form", f"write a value matching {ctx.get('pattern')}"))
        else:
            fix = "correct the value"
        problems.append(Problem(full_name, path, message, fix, where=where))
    return problems
