"""FullName rules and "did you mean" suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .errors import InvalidElementName

__all__ = ["FULL_NAME_PATTERN", "check_full_name", "is_identifier", "suggest"]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
FULL_NAME_PATTERN = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_IDENT_RE = re.compile(_IDENT)
_MAX_LENGTH = 512


def is_identifier(name: str) -> bool:
    """Tell whether a folder name can be one segment of a fullName."""
    return _IDENT_RE.fullmatch(name) is not None


def check_full_name(full_name: object) -> str:
    """Return the fullName if it is dotted identifiers, else raise InvalidElementName."""
    if not isinstance(full_name, str):
        raise InvalidElementName(f"an element fullName must be a str, not {type(full_name).__name__}")
    if len(full_name) <= _MAX_LENGTH and FULL_NAME_PATTERN.fullmatch(full_name):
        return full_name
    shown = full_name if len(full_name) <= 80 else full_name[:77] + "..."
    raise InvalidElementName(
        f"{shown!r} is not a valid element fullName: use dot-separated identifiers such as "
        "'auths.QywxProxyTemp' (letters, digits and '_', no '/', '..', spaces or empty parts)"
    )


def suggest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Return the candidates closest to name, comparing whole names and last segments."""
    pool = list(candidates)
    found = difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)
    by_tail: dict[str, list[str]] = {}
    for candidate in pool:
        by_tail.setdefault(candidate.rsplit(".", 1)[-1].lower(), []).append(candidate)
    tail = name.rsplit(".", 1)[-1].lower()
    for match in difflib.get_close_matches(tail, list(by_tail), n=limit, cutoff=0.7):
        for candidate in by_tail[match]:
            if candidate not in found:
                found.append(candidate)
    return found[:limit]
