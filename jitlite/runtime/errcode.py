"""JitAi's error code exception, ``Code`` (importable in element code as ``jit.errcode.Code``).

A ``Code`` is an exception carrying a numeric code and a reason. Element code raises it to answer a
caller with a specific errcode; jitlite's WeCom and WeChat API errors are ``Code`` too, so
``except Code as e: e.code`` catches them with WeCom's errcode.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Code"]


class Code(Exception):
    """An error with a numeric ``code`` and a human ``reason``; ``str()`` shows both."""

    def __init__(self, code: int = -1, reason: str = "") -> None:
        self.code = int(code)
        self.reason = str(reason)
        super().__init__(self.code, self.reason)

    def formatReason(self, *args: Any, **kwargs: Any) -> Code:
        """Return a new Code whose reason is this one's with ``{placeholders}`` filled in."""
        return type(self)(self.code, self.reason.format(*args, **kwargs))

    def __str__(self) -> str:
        return f"[{self.code}] {self.reason}" if self.reason else f"[{self.code}]"

    def __repr__(self) -> str:
        return f"Code({self.code!r}, {self.reason!r})"
