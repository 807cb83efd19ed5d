"""HTTP answers as plain values: what a Type hands back to whichever framework serves it.

Types never import a web framework. A method that answers an HTTP request (a WeCom callback, a
login entry) returns a :class:`Reply` — a status, a content type, a text and a few headers — and
the web layer (``jitlite.web.replies``) turns it into a Flask response at its one edge::

    return Reply.plain("success")                       # text/plain, 200
    return Reply.json({"corpId": corp})                 # application/json, values made JSON-ready
    return Reply.redirect("/login/auths.X?corpId=ww1")  # 302; a path is taken from the web layer's root

:func:`to_plain` makes the values a Type returns JSON-ready (datetimes, rows, data types, tuples).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ..runtime.schema import MASK

__all__ = ["JSON_CONTENT_TYPE", "TEXT_CONTENT_TYPE", "Reply", "to_plain"]

TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, content type, body text and extra headers (``Location`` for a redirect)."""

    status: int = 200
    text: str = ""
    content_type: str = TEXT_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"an HTTP status is 100 to 599, not {self.status!r}")
        for name, value in self.headers:
            if any(c in name + value for c in "\r\n\x00"):
                raise ValueError(f"header {name!r} must not contain line breaks or NUL")

    @classmethod
    def plain(cls, text: str, status: int = 200) -> Reply:
        """Return a ``text/plain`` answer."""
        return cls(status, text)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Reply:
        """Return a JSON answer of ``data`` (made JSON-ready by :func:`to_plain`)."""
        return cls(status, json.dumps(to_plain(data), ensure_ascii=False), JSON_CONTENT_TYPE)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        """Return a redirect; a location starting with one ``/`` is relative to where the web layer is mounted."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"a redirect's status is 301, 302, 303, 307 or 308, not {status}")
        return cls(status, "", TEXT_CONTENT_TYPE, (("Location", location),))

    @property
    def location(self) -> str | None:
        """Return the redirect target, if this is a redirect."""
        return next((value for name, value in self.headers if name.lower() == "location"), None)


def to_plain(value: Any) -> Any:
    """Return ``value`` JSON-ready: datetimes as ISO text, rows as dicts (secrets masked), data types as their value."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, BaseModel):
        return to_plain(value.model_dump(mode="json"))
    to_dict = getattr(value, "toDict", None)
    if callable(to_dict):  # a model row: its secret fields never leave as plain text
        hidden: frozenset[str] = getattr(value, "_secrets", frozenset())
        return {k: (MASK if k in hidden and v is not None else to_plain(v)) for k, v in to_dict().items()}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if hasattr(value, "to_storage_field") and hasattr(value, "value"):  # a JitAi data type holds its value
        return to_plain(value.value)
    raise TypeError(f"a {type(value).__name__} cannot be answered as JSON; return plain values, rows or data types")
