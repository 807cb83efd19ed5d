"""``databases.Meta``: the base of database elements."""

from __future__ import annotations

from ..element import Element

__all__ = ["Database"]


class Database(Element):
    """A database element: an SQL engine the models of an app use."""
