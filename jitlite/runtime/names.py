"""FullName rules and "did you mean" suggestions."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable

from .errors import InvalidElementName

__all__ = ["FULL_NAME_PATTERN", "check_full_name", "is_identifier", "misspelling_of", "suggest"]

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


def misspelling_of(key: str, known: Iterable[str]) -> str | None:
    """Return the known name that key is most likely a misspelling of, or None.

    A misspelling differs from a known name only in letter case, or by at most one edit (insert,
    delete, replace or swap two neighbours) per six letters of the known name, at least one:
    ``titel`` → ``title``, ``setings`` → ``settings``, ``wecomBaseURL`` → ``wecomBaseUrl``, while
    ``titleEn`` or ``timeout`` stay names of their own. A name that is itself known is no misspelling.
    """
    return _misspelling(key, tuple(sorted(known)))  # sorted: ties resolve the same way every run


@functools.lru_cache(maxsize=4096)
def _misspelling(key: str, pool: tuple[str, ...]) -> str | None:
    """Return misspelling_of(key, pool); cached, as thousands of e.json files repeat the same keys."""
    if key in pool:
        return None
    folded = key.casefold()
    best: tuple[int, str] | None = None
    for name in pool:
        allowed = max(1, len(name) // 6)
        if abs(len(name) - len(key)) > allowed:
            continue
        distance = _edit_distance(folded, name.casefold(), allowed)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, name)
    return None if best is None else best[1]


def _edit_distance(a: str, b: str, bound: int) -> int:
    """Return the optimal-string-alignment distance of a and b, or bound + 1 once it exceeds bound."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > bound:
            return bound + 1
        previous2, previous = previous, current
    return previous[-1]
