"""What Types expose over HTTP, declared as plain values the web layer mounts.

Two declarations, both read by ``jitlite.web`` and neither importing it:

* :class:`Route` — a URL a login Type contributes (its callbacks, its own login entries). A login
  Type lists them in ``webRoutes(app)``; the handler takes an :class:`Inbound` (method, path
  arguments, query, a body already read within ``body_limit``) and returns a
  :class:`~jitlite.meta.replies.Reply`. No route or service name is hard-coded in the web layer.
* :class:`ApiFunction` — a method callable over JitAi's API, ``POST /api/<orgId>/<appName>/<element
  path>/<function>``. Official classes list theirs in ``apiFunctions`` (an explicit allow-list);
  an app's elements list theirs in e.json's ``functionList``. Who may call it is its ``access``:

  ``public``  anyone (login entries: getLoginConfig, getLoginCode, exchangeLoginCode…)
  ``login``   a caller with a live session
  ``self``    a caller acting on their own user: the ``userId`` argument is the session's (filled in
              when left out); admins may name anyone
  ``corp``    a caller whose session is in the element's corp (``corpId``), or an admin
  ``admin``   the app's admins (settings ``admins``)

  ``raw`` names a method taking ``(query, body)`` and returning a Reply that is answered as it is —
  never wrapped in JitAi's envelope — for GET and POST (the WeCom callback, ``notify``).
  ``required`` names arguments an HTTP caller must send even where Python callers may leave them
  out (``getLoginCode``'s ``state``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..runtime.errors import JitliteError
from .replies import Reply

__all__ = [
    "ACCESS_LEVELS",
    "ADMIN",
    "CORP",
    "DEFAULT_BODY_LIMIT",
    "LOGIN",
    "PUBLIC",
    "SELF",
    "Access",
    "ApiFunction",
    "ApiFunctions",
    "Inbound",
    "Route",
    "RouteNotFound",
]

Access = Literal["public", "login", "self", "corp", "admin"]
ACCESS_LEVELS: tuple[str, ...] = ("public", "login", "self", "corp", "admin")
#: Bytes of a JSON body an API function reads at most, unless it declares another bound.
DEFAULT_BODY_LIMIT = 16 * 1024

_RULE = re.compile(r"(/[A-Za-z0-9_.\-]+|/<[A-Za-z_][A-Za-z0-9_]*>)+")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


class RouteNotFound(JitliteError, LookupError):
    """A route's argument names nothing it serves; the message is safe to show (answered 404)."""


@dataclass(frozen=True)
class Inbound:
    """An HTTP request as plain values: the method, the route's path arguments, the query and the body."""

    method: str
    args: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Route:
    """A URL a Type serves: its rule (``/callbacks/x/<name>``), methods and handler.

    ``body_limit`` is how many body bytes the web layer reads at most before calling the handler
    (a longer body is refused with 413 unread); 0 means the handler takes no body. A ``page`` route
    is one a person's browser opens: its errors are answered as a page rather than as JSON.
    """

    rule: str
    methods: tuple[str, ...]
    handler: Callable[[Inbound], Reply]
    name: str
    body_limit: int = 0
    page: bool = False

    def __post_init__(self) -> None:
        if not _RULE.fullmatch(self.rule):
            raise ValueError(f"route {self.name!r}: rule {self.rule!r} must be /segments with <name> placeholders")
        unknown = set(self.methods) - _METHODS
        if not self.methods or unknown:
            raise ValueError(f"route {self.name!r}: methods must be some of {sorted(_METHODS)}, got {self.methods}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", self.name):
            raise ValueError(f"a route's name is 1 to 64 letters, digits, '_' or '-', not {self.name!r}")
        if self.body_limit < 0:
            raise ValueError(f"route {self.name!r}: body_limit must be >= 0")


@dataclass(frozen=True)
class ApiFunction:
    """A method callable over JitAi's HTTP API, and who may call it (see the module docstring)."""

    access: Access = "login"
    raw: str | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {self.access!r}")
        if self.body_limit <= 0:
            raise ValueError("body_limit must be a positive number of bytes")

    @property
    def loginRequired(self) -> bool:
        """Tell whether a caller needs a session (every access but ``public``)."""
        return self.access != "public"


#: The allow-list of a class: function name → how it is called.
ApiFunctions = Mapping[str, ApiFunction]
PUBLIC = ApiFunction("public")
LOGIN = ApiFunction("login")
SELF = ApiFunction("self")
CORP = ApiFunction("corp")
ADMIN = ApiFunction("admin")
