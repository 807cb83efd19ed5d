"""FullName rules and "did you mean" suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .errors import InvalidElementName

__all__ = ["FULL_NAME_PATTERN", "check_full_name", "is_identifier", "suggest"]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
FULL_NAME_PATTERN = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_MAX_LENGTH = 512


def is_identifier(name: str) -> bool:
    """Tell whether a folder name can be one segment of a fullName (an ASCII identifier)."""
    return name.isidentifier() and name.isascii()


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
    found = _closest(name, pool, limit, cutoff=0.6)
    if found:
        return found
    # Nothing close as a whole: compare last segments ("QywxProxyTyp" → "auths.loginTypes.QywxProxyType").
    by_tail: dict[str, list[str]] = {}
    for candidate in pool:
        by_tail.setdefault(candidate.rsplit(".", 1)[-1].lower(), []).append(candidate)
    tail = name.rsplit(".", 1)[-1].lower()
    for match in _closest(tail, list(by_tail), limit, cutoff=0.7):
        found.extend(by_tail[match])
    return found[:limit]


def _closest(name: str, pool: list[str], limit: int, cutoff: float) -> list[str]:
    """Return the best matches, dropping those clearly worse than the best one."""
    matcher = difflib.SequenceMatcher(b=name)
    scored = []
    for candidate in pool:
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((ratio, candidate))
    scored.sort(key=lambda item: (-item[0], item[1]))
    if not scored:
        return []
    best = scored[0][0]
    return [candidate for ratio, candidate in scored[:limit] if ratio >= best - 0.1]
