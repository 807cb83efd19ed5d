"""``models.Meta``: the base of model elements (tables in the app's database, JitAi's model API)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..runtime.element import Element
from ..runtime.errors import ElementBuildError
from ..storage import Model, ModelManager, Row
from ..storage.model import FilterArg

__all__ = ["ModelElement"]


class ModelElement(Element):
    """A model element: its class names a ``jitlite.storage.Model`` as ``table``.

    ``onLoad`` binds the table to the database its config names (``databases.Default`` unless
    told otherwise), creating or migrating it; the methods below are JitAi's model API.
    """

    table: ClassVar[type[Model] | None] = None
    manager: ModelManager

    def onLoad(self) -> None:
        """Bind the table to its database, creating or migrating it."""
        table = type(self).table
        if table is None:
            raise ElementBuildError(f"{self.fullName}: class {type(self).__qualname__} names no table; set "
                                    "`table = <a jitlite.storage.Model subclass>` on it")
        database = self.app.getElement(getattr(self.config, "database", "databases.Default"))
        needs_box = any(field.secret for field in table.__fields__.values())
        self.manager = table.bind(database.engine, database.secretBox if needs_box else None)

    def get(self, filter: FilterArg, orderList: Sequence[Sequence[Any]] | None = None) -> Row | None:
        """Return the first row matching the filter, or None."""
        return self.manager.get(filter, orderList)

    def query(
        self,
        filter: FilterArg = None,
        fieldList: Sequence[str] | None = None,
        orderList: Sequence[Sequence[Any]] | None = None,
        page: int = 1,
        size: int = 20,
    ) -> dict[str, Any]:
        """Return one page of matching rows and the total count: ``{"rowDatas", "totalCount"}``."""
        return self.manager.query(filter, fieldList, orderList, page, size)

    def create(self, rowData: Mapping[str, Any]) -> Row:
        """Insert a row and return it."""
        return self.manager.create(rowData)

    def updateOrAdd(self, filter: FilterArg, updateData: Mapping[str, Any]) -> Row:
        """Update the row matching the filter, or insert one; return it."""
        return self.manager.updateOrAdd(filter, updateData)

    def createOrUpdateMany(
        self, rowDatas: Iterable[Mapping[str, Any]], uniqueFields: Sequence[str] | None = None, batchSize: int = 1000
    ) -> int:
        """Insert or update many rows on a unique key, one statement per batch; return the count."""
        return self.manager.createOrUpdateMany(rowDatas, uniqueFields, batchSize)

    def updateByPK(self, pk: Any, updateData: Mapping[str, Any]) -> Row | None:
        """Update the row with this primary key; return it, or None if there is none."""
        return self.manager.updateByPK(pk, updateData)

    def deleteByPK(self, pk: Any) -> int:
        """Delete the row with this primary key; return how many were deleted."""
        return self.manager.deleteByPK(pk)

    def updateByFilter(self, filter: FilterArg, updateData: Mapping[str, Any]) -> int:
        """Update every matching row; return how many changed."""
        return self.manager.updateByFilter(filter, updateData)

    def deleteByFilter(self, filter: FilterArg) -> int:
        """Delete every matching row; return how many were deleted."""
        return self.manager.deleteByFilter(filter)
