"""``datatypes.Meta``: JitAi's data types, imported in element code as ``from datatypes.Meta import datatypes``.

``datatypes.Stext(name="nick", title="Name")`` declares a model field (see ``models.NormalType``);
``datatypes.Money(value=850.0)`` is a value with ``.value``, as JitAi's services return them.
"""

from __future__ import annotations

from typing import ClassVar

from jitlite.runtime.element import Element

from .fields import DATATYPES, UNSUPPORTED, DataType, DataTypes, datatypes

__all__ = ["DATATYPES", "UNSUPPORTED", "DataType", "DataTypeMeta", "DataTypes", "datatypes"]


class DataTypeMeta(Element):
    """The Meta of data types: ``app.getElement("datatypes.Meta").datatypes`` is the namespace."""

    datatypes: ClassVar[DataTypes] = datatypes
