"""``services.Meta``: the base of service elements (backend functions grouped by purpose)."""

from __future__ import annotations

from ..runtime.element import Element

__all__ = ["Service"]


class Service(Element):
    """A service element; its public methods are its functions."""
