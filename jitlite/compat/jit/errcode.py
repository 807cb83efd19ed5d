"""``jit.errcode``: JitAi's error code exception, ``Code`` (jitlite's WeCom errors are ``Code`` too)."""

from __future__ import annotations

from jitlite.runtime.errcode import Code

__all__ = ["Code"]
