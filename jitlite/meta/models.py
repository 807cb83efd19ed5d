"""``models.Meta``: the base of model elements (tables in the app's database)."""

from __future__ import annotations

from ..element import Element

__all__ = ["ModelElement"]


class ModelElement(Element):
    """A model element: a table with jitlite's model API."""
