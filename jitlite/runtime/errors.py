"""Errors raised by the element runtime.

Exception tree::

    JitliteError
    ├── ElementLoadError        start-up found problems; lists every one of them
    ├── ElementNotFound         (also LookupError) no element has that fullName
    ├── InvalidElementName      (also ValueError) a fullName that is not dotted identifiers
    ├── ElementBuildError       building an element's object failed (cause chained)
    ├── ElementTypeError        (also TypeError) getElement(name, cls) found an element of another class
    ├── AppClosed               the App was closed; it builds and hands out no more elements
    └── AuthError               a login or session request was refused
        ├── LoginInactive       the login element is disabled (isActive false)
        ├── LoginCodeInvalid    a login code is unknown, used, expired or for another corp
        ├── LoginStateInvalid   an OAuth state is unknown, used or expired
        ├── CorpNotAuthorized   the corp has not authorised the suite, or cancelled it
        └── SessionInvalid      a session token is unknown, expired or revoked
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AppClosed",
    "AuthError",
    "CorpNotAuthorized",
    "ElementBuildError",
    "ElementLoadError",
    "ElementNotFound",
    "ElementTypeError",
    "InvalidElementName",
    "JitliteError",
    "LoginCodeInvalid",
    "LoginInactive",
    "LoginStateInvalid",
    "Problem",
    "SessionInvalid",
]


class JitliteError(Exception):
    """Base class of every error jitlite raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an app: where it is, what is wrong and how to fix it."""

    full_name: str
    path: str
    message: str
    fix: str = ""
    where: str = ""  # a field location ("authConfig.suiteId") or a JSON position ("line 3, column 5")

    def render(self) -> str:
        """Return the problem as the lines of a report entry."""
        location = self.path + (f", {self.where}" if self.where else "")
        lines = [f"{self.full_name} — {location}", f"   {self.message}"]
        if self.fix:
            lines.append(f"   fix: {self.fix}")
        return "\n".join(lines)


class ElementLoadError(JitliteError):
    """Start-up found one or more problems; the message lists each with its fix."""

    def __init__(self, problems: Sequence[Problem], app_label: str = "the app") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"jitlite could not load {app_label}: {count} problem{'s' if count != 1 else ''}"
        body = "\n".join(f"{i}. {p.render()}" for i, p in enumerate(self.problems, 1))
        super().__init__(f"{header}\n\n{body}")


class ElementNotFound(JitliteError, LookupError):
    """No element with this fullName is visible in the app."""

    def __init__(self, full_name: str, suggestions: Sequence[str] = (), detail: str = "") -> None:
        self.full_name = full_name
        self.suggestions = list(suggestions)
        message = f"no element named {full_name!r} in this app"
        if detail:
            message += f": {detail}"
        if self.suggestions:
            message += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(message)

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class InvalidElementName(JitliteError, ValueError):
    """A fullName that is not a dot-separated list of Python identifiers."""


class ElementBuildError(JitliteError):
    """Building an element's object (importing its code, constructing, onLoad) failed."""


class ElementTypeError(JitliteError, TypeError):
    """``getElement(fullName, cls)`` found an element that is not a ``cls``."""


class AppClosed(JitliteError):
    """The App was closed (``App.close()`` or the end of its ``with`` block): open it again to use it."""


class AuthError(JitliteError):
    """A login or session request was refused; the message is safe to show to the user."""


class LoginInactive(AuthError):
    """A login was attempted through a login element whose ``isActive`` is false."""


class LoginCodeInvalid(AuthError):
    """A login code is unknown, already used, expired, or not valid for the chosen corp."""


class SessionInvalid(AuthError):
    """A session token is unknown, expired or revoked."""


class LoginStateInvalid(AuthError):
    """An OAuth ``state`` came back unknown, already used or expired (a forged or stale redirect)."""


class CorpNotAuthorized(AuthError):
    """The corp has not authorised the suite, or has cancelled the authorisation."""
