"""``models.Meta``: the base of model elements (tables in the app's database, JitAi's model API).

A model element's class either names a ``jitlite.storage.Model`` as ``table`` (the official models
do), or declares JitAi's fields and ``Meta`` the way a JitAi ``model.py`` does::

    from datatypes.Meta import datatypes
    from models.NormalType import NormalModel

    class CustomerModel(NormalModel):
        id = datatypes.AutoInt(name="id", title="id", primaryKey=True, readOnly=1)
        nick = datatypes.Stext(name="nick", title="Name")

        class Meta:
            dbTable = "CustomerModel"
            unionUniqueList = [{"name": "uNick", "fieldNameList": ["nick"]}]

The fields become a ``jitlite.storage.Model`` when the class is created: one engine for every
model. A field the storage cannot keep is reported then, naming the element, file and field.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, overload

from ..runtime.element import Element
from ..runtime.errors import ElementBuildError
from ..runtime.names import misspelling_of
from ..storage import Model, ModelManager, Row
from ..storage.errors import ModelDefinitionError, did_you_mean
from ..storage.fields import Field
from ..storage.model import TABLE_NAME_PATTERN, FilterArg, PkList

__all__ = ["ModelElement"]

log = logging.getLogger("jitlite.models")

# The keys of a JitAi model's inner ``class Meta``.
_META_KEYS = frozenset({"modelType", "name", "title", "db", "dataTitle", "dbTable", "unionIndexList",
                        "unionUniqueList"})
_LAYER_PREFIXES = ("jitlite._layers.", "jitlite.types.")


class ModelElement(Element):
    """A model element: its class names a ``jitlite.storage.Model`` as ``table``, or declares JitAi fields.

    ``onLoad`` binds the table to its database — e.json's ``db``, else the business config's
    ``database``, else ``Meta.db``, else the app's default database (``settings.defaultElement.
    defaultDatabase``, else ``databases.Default``) — creating or migrating it.
    The methods below are JitAi's model API, with JitAi's argument names.
    """

    table: ClassVar[type[Model] | None] = None
    #: The JitAi field declarations of the class (``datatypes.*``), by attribute name.
    __datatypes__: ClassVar[dict[str, Any]] = {}
    #: The JitAi ``class Meta`` settings of the class (dbTable, db, dataTitle, …).
    modelMeta: ClassVar[dict[str, Any]] = {}
    manager: ModelManager

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = {name: value for name, value in vars(cls).items() if _is_datatype(value)}
        if not declared and "Meta" not in vars(cls):
            return  # a plain subclass keeps its parent's table
        inherited = dict(cls.__datatypes__)
        if not declared and not inherited:
            return
        for name in declared:
            # The fields live in the table; as class attributes they would hide the element's own.
            delattr(cls, name)
        if "table" in vars(cls):
            raise ModelDefinitionError(f"{_origin(cls)}: declare the fields with datatypes or set `table`, not both")
        cls.__datatypes__ = {**inherited, **declared}
        cls.modelMeta = _model_meta(cls)
        cls.table = _table_of(cls, cls.__datatypes__, cls.modelMeta)

    def onLoad(self) -> None:
        """Bind the table to its database, creating or migrating it."""
        table = type(self).table
        if table is None:
            raise ElementBuildError(
                f"{self.fullName}: class {type(self).__qualname__} names no table and declares no fields; declare "
                "them with datatypes (from datatypes.Meta import datatypes), or set `table = <a jitlite.storage."
                "Model subclass>` on it")
        database = self.app.getElement(self.databaseName())
        needs_box = any(field.secret for field in table.__fields__.values())
        self.manager = table.bind(database.engine, database.secretBox if needs_box else None)

    def databaseName(self) -> str:
        """Return the fullName of the database this model's table lives in."""
        chosen: dict[str, str] = {}
        declared = getattr(self.declaration, "db", None)
        if declared:
            chosen["e.json db"] = declared
        config_fields: set[str] = getattr(self.config, "model_fields_set", set())
        if "database" in config_fields:
            chosen["the business config's database"] = self.config.database  # type: ignore[attr-defined]
        meta_db = type(self).modelMeta.get("db")
        if meta_db:
            chosen["model.py Meta.db"] = meta_db
        if len(set(chosen.values())) > 1:
            named = "; ".join(f"{where} is {name!r}" for where, name in chosen.items())
            raise ElementBuildError(f"{self.fullName}: its database is named differently in several places ({named}); "
                                    "name one database, in e.json's db")
        if chosen:
            return next(iter(chosen.values()))
        return self.app.defaultElementName("defaultDatabase")  # settings.defaultElement, else databases.Default

    # -- JitAi's model API -------------------------------------------------------------------------

    def get(self, filter: FilterArg, orderList: Sequence[Sequence[Any]] | None = None, level: int = 2) -> Row | None:
        """Return the first row matching the filter (in ``orderList`` order), or None.

        ``level`` (JitAi's depth of related data) is accepted; jitlite models have no relations.
        """
        return self.manager.get(filter, orderList)

    def query(
        self,
        filter: FilterArg = None,
        fieldList: Sequence[str] | None = None,
        orderList: Sequence[Sequence[Any]] | None = None,
        page: int | None = None,
        size: int | None = None,
        level: int = 2,
    ) -> dict[str, Any]:
        """Return ``{"rowDatas": [...], "totalCount": n}``: every matching row, or one page of ``size`` rows."""
        return self.manager.query(filter, fieldList, orderList, page, size)

    def create(self, rowData: Mapping[str, Any], triggerEvent: int = 1) -> Row:
        """Insert a row and return it (``triggerEvent`` is accepted; model events are not run)."""
        return self.manager.create(rowData, triggerEvent)

    def createIfAbsent(self, rowData: Mapping[str, Any], triggerEvent: int = 1, *,
                       uniqueFields: Sequence[str] | None = None, durable: bool = False,
                       busyTimeout: float | None = None) -> Any | None:
        """Insert a row unless one with the same unique key exists; return its new primary key, or None.

        ``durable`` syncs the commit to disk even on an SQLite database set to ``synchronous`` NORMAL;
        ``busyTimeout`` (seconds, SQLite) waits less than the database's busy timeout for the write lock.
        """
        return self.manager.createIfAbsent(rowData, triggerEvent, uniqueFields=uniqueFields, durable=durable,
                                           busyTimeout=busyTimeout)

    def createManyIfAbsent(self, rowDataList: Sequence[Mapping[str, Any]], triggerEvent: int = 1, *,
                           uniqueFields: Sequence[str] | None = None, durable: bool = False,
                           busyTimeout: float | None = None) -> list[Any | None]:
        """Insert the rows whose unique key is not stored yet, in one statement; return each one's new key or None."""
        return self.manager.createManyIfAbsent(rowDataList, triggerEvent, uniqueFields=uniqueFields, durable=durable,
                                               busyTimeout=busyTimeout)

    def updateAndReturn(self, filter: FilterArg, updateData: Mapping[str, Any], *,
                        increments: Mapping[str, int] | None = None,
                        fieldList: Sequence[str] | None = None) -> list[Row]:
        """Update every matching row in one statement (adding ``increments``); return the rows as updated."""
        return self.manager.updateAndReturn(filter, updateData, increments=increments, fieldList=fieldList)

    def updateOrAdd(
        self,
        filter: FilterArg,
        orderList: Sequence[Sequence[Any]] | Mapping[str, Any] | None = None,
        updateData: Mapping[str, Any] | None = None,
        addData: Mapping[str, Any] | None = None,
        triggerEvent: int = 1,
    ) -> Row:
        """Update the row the filter finds with ``updateData``, or insert ``addData``; return it.

        ``updateOrAdd(filter, updateData)`` (without orderList and addData) works too.
        """
        return self.manager.updateOrAdd(filter, orderList, updateData, addData, triggerEvent)

    def createOrUpdateMany(
        self,
        rowDataList: Iterable[Mapping[str, Any]],
        triggerEvent: int = 1,
        *,
        uniqueFields: Sequence[str] | None = None,
        batchSize: int = 1000,
    ) -> int:
        """Insert or update many rows on a unique key (or their id), one statement per batch; return the count."""
        return self.manager.createOrUpdateMany(rowDataList, triggerEvent, uniqueFields=uniqueFields,
                                               batchSize=batchSize)

    @overload
    def updateByPK(self, pkList: PkList, updateData: Mapping[str, Any], triggerEvent: int = 1) -> list[Row]: ...

    @overload
    def updateByPK(self, pkList: int | str, updateData: Mapping[str, Any], triggerEvent: int = 1) -> Row | None: ...

    def updateByPK(self, pkList: Any, updateData: Mapping[str, Any], triggerEvent: int = 1) -> list[Row] | Row | None:
        """Update the rows with these primary keys; return them (one key: its row, or None)."""
        return self.manager.updateByPK(pkList, updateData, triggerEvent)

    def deleteByPK(self, pkList: Any, triggerEvent: int = 1) -> int:
        """Delete the rows with these primary keys (or one key); return how many were deleted."""
        return self.manager.deleteByPK(pkList, triggerEvent)

    def updateByFilter(self, filter: FilterArg, updateData: Mapping[str, Any]) -> int:
        """Update every matching row; return how many changed."""
        return self.manager.updateByFilter(filter, updateData)

    def deleteByFilter(self, filter: FilterArg) -> int:
        """Delete every matching row; return how many were deleted."""
        return self.manager.deleteByFilter(filter)


# --- JitAi model classes --------------------------------------------------------------------------


def _is_datatype(value: Any) -> bool:
    """Tell whether a class attribute is a JitAi field declaration (``datatypes.Stext(...)``)."""
    return not isinstance(value, type) and callable(getattr(type(value), "to_storage_field", None))


def _origin(cls: type) -> str:
    """Return "<element fullName> (<file>)" for a model class, as errors name it."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None) or cls.__module__
    name = cls.__module__
    for prefix in _LAYER_PREFIXES:
        if name.startswith(prefix):
            rest = name[len(prefix):]
            # A layer package is "jitlite._layers.<app>_<hash>"; the element path follows it.
            name = rest.partition(".")[2] if prefix == "jitlite._layers." else rest
            break
    if os.path.basename(str(path)) != "__init__.py" and "." in name:
        name = name.rpartition(".")[0]  # model.py inside the element folder
    return f"element {name} ({path}), class {cls.__qualname__}"


def _model_meta(cls: type) -> dict[str, Any]:
    """Return the settings of the class's ``Meta``, checking their names and shapes."""
    meta = getattr(cls, "Meta", None)
    if meta is None:
        return {}
    found: dict[str, Any] = {}
    for key, value in vars(meta).items():
        if key.startswith("_"):
            continue
        meant = misspelling_of(key, _META_KEYS)
        if meant is not None:
            raise ModelDefinitionError(f"{_origin(cls)}: Meta has no setting {key!r}; did you mean {meant!r}?")
        found[key] = value
    for key in ("name", "title", "db", "dataTitle", "dbTable", "modelType"):
        if key in found and found[key] is not None and not isinstance(found[key], str):
            raise ModelDefinitionError(f"{_origin(cls)}: Meta.{key} must be text, got {found[key]!r:.60}")
    return found


def _field_lists(cls: type, meta: Mapping[str, Any], key: str, fields: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Return the field-name tuples of ``Meta.unionIndexList`` or ``Meta.unionUniqueList``."""
    entries = meta.get(key) or []
    if not isinstance(entries, (list, tuple)):
        raise ModelDefinitionError(f"{_origin(cls)}: Meta.{key} must be a list, got {entries!r:.60}")
    found: list[tuple[str, ...]] = []
    for position, entry in enumerate(entries):
        names = entry.get("fieldNameList") if isinstance(entry, Mapping) else entry
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
            raise ModelDefinitionError(
                f"{_origin(cls)}: Meta.{key}[{position}] must be "
                '{"name": …, "fieldNameList": ["field1", "field2"]}, got ' f"{entry!r:.80}")
        for name in names:
            if name not in fields and name != "id":
                raise ModelDefinitionError(f"{_origin(cls)}: Meta.{key}[{position}] names no field {name!r}"
                                           f"{did_you_mean(name, fields)}")
        found.append(tuple(names))
    return found


def _table_of(cls: type, declarations: Mapping[str, Any], meta: Mapping[str, Any]) -> type[Model]:
    """Return the storage model keeping a JitAi model class's fields."""
    fields: dict[str, Field] = {}
    for name, declaration in declarations.items():
        try:
            fields[name] = declaration.to_storage_field(name)
        except (ModelDefinitionError, TypeError, ValueError) as exc:
            raise ModelDefinitionError(f"{_origin(cls)}, field {name!r}: {exc}") from None
    table_name = meta.get("dbTable") or meta.get("name") or cls.__name__
    if not TABLE_NAME_PATTERN.match(table_name) or table_name == "jitlite_schema":
        raise ModelDefinitionError(
            f"{_origin(cls)}: {table_name!r} is not a usable table name; set Meta.dbTable to letters, digits and _ "
            "(at most 63, starting with a letter)")
    data_title = meta.get("dataTitle")
    if data_title and data_title not in fields:
        log.warning("%s: Meta.dataTitle %r names no field%s", _origin(cls), data_title,
                    did_you_mean(data_title, fields))
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": f"{cls.__qualname__}.table",
        "__doc__": f"The table of {cls.__qualname__}.",
        "__tablename__": table_name,
        "__unique__": _field_lists(cls, meta, "unionUniqueList", fields),
        "__indexes__": _field_lists(cls, meta, "unionIndexList", fields),
        **fields,
    }
    try:
        table: type[Model] = type(cls.__name__, (Model,), namespace)
    except ModelDefinitionError as exc:
        raise ModelDefinitionError(f"{_origin(cls)}: {exc}") from None
    return table
