"""Models: field declarations on a class, bound at run time to an engine as a ModelManager."""

from __future__ import annotations

import functools
import hashlib
import json
import operator
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, overload

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from .engine import (
    bounded_write_engine,
    durable_write_engine,
    ensure_schema,
    pg_autocommit_rows,
    sqlite_write_cursor,
    write_engine,
    write_transaction,
)
from .errors import (
    AmbiguousFilterError,
    ConstraintError,
    FieldValueError,
    FilterError,
    ModelDefinitionError,
    QueryError,
    SecretKeyError,
    StorageError,
    UnknownFieldError,
    did_you_mean,
    filter_error_from_database,
)
from .fields import AutoInt, Field
from .qfilter import Condition, Q, _And, compile_filter, to_q
from .secrets import SECRET_KEY_VARIABLE, SecretBox

__all__ = ["TABLE_NAME_PATTERN", "FilterArg", "IndexSpec", "Model", "ModelManager", "PkList", "Row"]

FilterArg = str | Q | Mapping[str, Any] | None
#: JitAi's pkList: several primary keys (a single key is accepted where pkList is).
PkList = list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any]

TABLE_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
# Column types PostgreSQL takes as an array parameter to unnest (createManyIfAbsent's driver path),
# cast to the base type so that the insert checks lengths and scales as a plain INSERT does; any
# other (JSON) leaves the statement to SQLAlchemy.
_UNNEST_TYPES = re.compile(r"VARCHAR|TEXT|BIGINT|BOOLEAN|NUMERIC|DATE|TIMESTAMP WITH TIME ZONE")
_TYPE_PARAMETERS = re.compile(r"\(.*\)")
# Names a field cannot take: Row's own methods and Model's class methods would shadow them.
_RESERVED = frozenset({"toDict", "keys", "values", "items", "get", "bind", "sa_table", "schema_hash", "index_specs"})


# --- rows -----------------------------------------------------------------------------------------


class Row(Mapping[str, Any]):
    """One row as plain Python values: ``row.name``, ``row["name"]``, ``row.toDict()``."""

    __slots__ = ("_data", "_model", "_secrets")

    _data: dict[str, Any]
    _model: str
    _secrets: frozenset[str]

    def __init__(self, model: str, data: dict[str, Any], secrets: frozenset[str] = frozenset()) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_secrets", secrets)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(self._missing(key)) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe dunders
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(self._missing(name)) from None

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"rows are read-only; change {self._model} with updateByPK or updateByFilter")

    def _missing(self, name: str) -> str:
        return f"this {self._model} row has no field {name!r}{did_you_mean(name, self._data)}"

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def toDict(self) -> dict[str, Any]:
        """Return the row as a new dict."""
        return dict(self._data)

    def __repr__(self) -> str:
        shown = {k: ("***" if k in self._secrets and v is not None else v) for k, v in self._data.items()}
        return f"<{self._model} row {shown!r}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Row, (self._model, self._data, self._secrets))


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    """Return the Row class of rows holding these fields: each field a property on it.

    Reading ``row.name`` through ``__getattr__`` costs a failed attribute lookup (an AttributeError
    raised and caught inside the interpreter) first, five times a property's read; batches read
    hundreds of rows. (Models refuse field names a Row already has, such as ``keys``.) One class per
    distinct field list (models x fieldLists), kept in a bounded cache.
    """
    def reader(name: str) -> property:
        return property(lambda row: row._data[name], doc=f"The row's {name!r} field.")

    fields = {name: reader(name) for name in names if not hasattr(Row, name)}
    return type("Row", (Row,), {"__slots__": (), "__qualname__": "Row", "__module__": Row.__module__, **fields})


# --- model declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexSpec:
    """An index the model's table must have."""

    columns: tuple[str, ...]
    unique: bool

    def name(self, table: str) -> str:
        """Return the index name, hashed down to PostgreSQL's 63-character limit when needed."""
        name = f"{'ux' if self.unique else 'ix'}_{table}_{'_'.join(self.columns)}"
        if len(name) > 63:
            digest = hashlib.sha1(name.encode()).hexdigest()[:8]
            name = f"{name[:54]}_{digest}"
        return name


class Model:
    """Base class of models: declare fields as class attributes, then ``bind`` to an engine.

    ::

        class CorpAuth(Model):
            __tablename__ = "corp_auth"
            __unique__ = [("suiteId", "corpId")]
            __indexes__ = ["status"]
            id = AutoInt(primary_key=True)
            suiteId = Stext(max_length=64)
            corpId = Stext(max_length=64)
            permanentCode = Secret()
            status = Stext(max_length=16, default="active")

        corp_auths = CorpAuth.bind(engine, secret_box=SecretBox(key))

    A model without a primary key gets ``id = AutoInt(primary_key=True)``. A model without
    ``__tablename__`` is abstract: it can be subclassed but not bound.
    """

    __tablename__: ClassVar[str]
    __unique__: ClassVar[Sequence[str | Sequence[str]]] = ()
    __indexes__: ClassVar[Sequence[str | Sequence[str]]] = ()
    __fields__: ClassVar[dict[str, Field]] = {}
    __pk__: ClassVar[str] = ""
    _jl_table: ClassVar[sa.Table]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Field):
                    fields[name] = value
        for name, field in fields.items():
            _check_field_name(cls, name, field)
        keys = [name for name, field in fields.items() if field.primary_key]
        if len(keys) > 1:
            raise ModelDefinitionError(f"model {cls.__name__} declares several primary keys: {keys}; use one")
        if not keys:
            if "id" in fields:
                raise ModelDefinitionError(f"model {cls.__name__}: field 'id' is not the primary key; declare one")
            auto = AutoInt(primary_key=True)
            auto.name = "id"
            cls.id = auto  # type: ignore[attr-defined]
            fields["id"] = auto
            keys = ["id"]
        # The primary key is the first column, wherever it was declared (or inherited from).
        cls.__fields__ = {keys[0]: fields[keys[0]], **fields}
        cls.__pk__ = keys[0]
        cls.index_specs()  # fail at class creation, not at the first bind

    @classmethod
    def index_specs(cls) -> list[IndexSpec]:
        """Return the indexes the table must have: unique keys first, then plain ones."""
        specs: dict[tuple[str, ...], IndexSpec] = {}
        declared: list[tuple[Sequence[str] | str, bool, str]] = []
        declared += [(entry, True, "__unique__") for entry in cls.__unique__]
        declared += [((name,), True, f"field {name!r}") for name, f in cls.__fields__.items() if f.unique]
        declared += [((name,), False, f"field {name!r}") for name, f in cls.__fields__.items() if f.index]
        declared += [(entry, False, "__indexes__") for entry in cls.__indexes__]
        for entry, unique, origin in declared:
            columns = (entry,) if isinstance(entry, str) else tuple(entry)
            if not columns or not all(isinstance(c, str) for c in columns):
                raise ModelDefinitionError(f"model {cls.__name__}: {origin} entries are field names or tuples of them")
            for column in columns:
                field = cls.__fields__.get(column)
                if field is None:
                    raise ModelDefinitionError(
                        f"model {cls.__name__}: {origin} names unknown field {column!r}"
                        f"{did_you_mean(column, cls.__fields__)}"
                    )
                if not field.indexable:
                    raise ModelDefinitionError(
                        f"model {cls.__name__}: {origin}: {type(field).__name__} field {column!r} cannot be indexed"
                    )
            if columns == (cls.__pk__,):
                continue  # the primary key is already unique and indexed
            previous = specs.get(columns)
            if previous is None or (unique and not previous.unique):
                specs[columns] = IndexSpec(columns, unique)
        return list(specs.values())

    @classmethod
    def sa_table(cls) -> sa.Table:
        """Return the model's SQLAlchemy table (built once per class; engines share it)."""
        table = cls.__dict__.get("_jl_table")
        if table is None:
            name = getattr(cls, "__tablename__", None)
            if not isinstance(name, str) or not TABLE_NAME_PATTERN.match(name) or name == "jitlite_schema":
                raise ModelDefinitionError(
                    f"model {cls.__name__} needs __tablename__: letters, digits and _ (at most 63), "
                    f"not 'jitlite_schema'; got {name!r}"
                )
            columns = [field.make_column() for field in cls.__fields__.values()]
            indexes = [sa.Index(spec.name(name), *spec.columns, unique=spec.unique) for spec in cls.index_specs()]
            autoincrement = isinstance(cls.__fields__[cls.__pk__], AutoInt)
            # AUTOINCREMENT on SQLite: ids of deleted rows are never handed out again.
            table = sa.Table(name, sa.MetaData(), *columns, *indexes, sqlite_autoincrement=autoincrement)
            cls._jl_table = table
        return table

    @classmethod
    def schema_hash(cls) -> str:
        """Return a digest of everything the table's schema depends on."""
        description = {
            "table": cls.sa_table().name,
            "fields": {name: field.signature() for name, field in cls.__fields__.items()},
            "indexes": sorted([list(spec.columns), spec.unique] for spec in cls.index_specs()),
        }
        return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]

    @classmethod
    def bind(cls, engine: Engine, secret_box: SecretBox | None = None, *, migrate: bool = True) -> ModelManager:
        """Return a manager for this model on ``engine``; with ``migrate``, create or migrate its table."""
        return ModelManager(cls, engine, secret_box, migrate=migrate)


def _check_field_name(model: type[Model], name: str, field: Field) -> None:
    if field.name and field.name != name:
        raise ModelDefinitionError(
            f"model {model.__name__}: one {type(field).__name__} object is declared as both "
            f"{field.name!r} and {name!r}; give each field its own object"
        )
    field.name = name
    if name.startswith("_") or "__" in name or not name.isidentifier() or len(name) > 63:
        raise ModelDefinitionError(
            f"model {model.__name__}: {name!r} is not a usable field name (an identifier of at most 63 "
            "characters, not starting with _ and without __)"
        )
    if name in _RESERVED:
        raise ModelDefinitionError(
            f"model {model.__name__}: {name!r} is reserved (rows and models have a method of that name)"
        )


# --- bound models ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: plans key dicts per row
class _UpsertPlan:
    """How rows with one particular sequence of keys are upserted."""

    keys: tuple[str, ...]  # the rows' own keys, in their order
    writers: tuple[Callable[[Any], Any], ...]  # one per key: check, convert (and on SQLite bind)
    defaults: tuple[Callable[[], Any], ...]  # values for the missing fields that have a default
    unique: Callable[[tuple[Any, ...]], Any] | None  # picks the unique key's values out of a row (None: inserts)
    columns: tuple[str, ...]  # the column of each converted value: keys, then defaulted fields
    statement: Any  # the SQLAlchemy statement (PostgreSQL)
    sql: str | None  # SQLite: the statement compiled once, run with sqlite3's executemany
    order: tuple[int, ...] | None  # SQLite: the converted values' order for its "?"s, if not as is


class ModelManager:
    """A model bound to one engine: JitAi's model API (get, query, create, updateOrAdd, …)."""

    def __init__(
        self, model: type[Model], engine: Engine, secret_box: SecretBox | None = None, *, migrate: bool = True
    ) -> None:
        self.model = model
        self.name = model.__name__
        self.engine = engine
        self.table = model.sa_table()
        self.fields = model.__fields__
        self.pk = model.__pk__
        self._pk_column = self.table.c[self.pk]
        self._writer = write_engine(engine)
        self._durable_writer = durable_write_engine(engine)
        self._bounded_writers: dict[tuple[bool, float], Engine] = {}
        # A one-statement write needs no BEGIN and COMMIT round trips on PostgreSQL: the statement is
        # its own transaction (committed as durably, by synchronous_commit).
        self._statement_writer = (engine.execution_options(isolation_level="AUTOCOMMIT")
                                  if engine.dialect.name == "postgresql" else None)
        secret_fields = [name for name, field in self.fields.items() if field.secret]
        if secret_fields and secret_box is None:
            raise SecretKeyError(
                f"model {self.name} stores secrets ({', '.join(secret_fields)}); set the variable "
                f"{SECRET_KEY_VARIABLE} to a Fernet key (generate one with `jitlite keygen`)"
            )
        self._box = secret_box
        self._secrets = frozenset(secret_fields)
        self._writers = {name: self._make_writer(field) for name, field in self.fields.items()}
        self._columns: dict[str, ColumnElement[Any]] = {c.name: c for c in self.table.columns}
        # What the driver gets for each column's value (the paths that bind without SQLAlchemy).
        self._bind_processors: dict[str, Any] = {
            c.name: c.type.dialect_impl(engine.dialect).bind_processor(engine.dialect) for c in self.table.columns}
        self._plans: dict[tuple[tuple[str, ...], tuple[str, ...]], _UpsertPlan] = {}
        self._absent_keys: dict[tuple[str, ...] | None, tuple[str, ...]] = {}
        self._absent_inserts: dict[tuple[tuple[str, ...], tuple[str, ...]], Any] = {}
        self._values_plans: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, str, str, list[Any]]] = {}
        self._unnest_plans: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, list[tuple[str, Any]]] | None] = {}
        self._many_inserts: dict[tuple[str, ...], Any] = {}  # createManyIfAbsent's SQLAlchemy statement per key
        if migrate:
            ensure_schema(engine, [model])

    def __repr__(self) -> str:
        return f"<ModelManager {self.name} on {self.engine.url.render_as_string(hide_password=True)}>"

    # -- reading -----------------------------------------------------------------------------------

    def get(self, filter: FilterArg, orderList: Sequence[Sequence[Any]] | None = None) -> Row | None:
        """Return the first row matching ``filter`` (in ``orderList`` order), or None."""
        statement = self._select(self.table.columns, self._where(filter), orderList).limit(1)
        with self._filter_refusals(), self.engine.connect() as conn:
            found = conn.execute(statement).first()
        return None if found is None else self._row(self.table.columns.keys(), found)

    def query(
        self,
        filter: FilterArg = None,
        fieldList: Sequence[str] | None = None,
        orderList: Sequence[Sequence[Any]] | None = None,
        page: int | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """Return matching rows and their total count: ``{"rowDatas": […], "totalCount": n}``.

        Without ``page`` and ``size`` every matching row is returned, as JitAi does. With ``size``,
        one page of that many rows (``page`` 1 unless given); ``page`` needs ``size``.
        """
        for label, number in (("page", page), ("size", size)):
            if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
                raise QueryError(f"{self.name}.query: {label} must be a positive integer, got {number!r}")
        if page is not None and size is None:
            raise QueryError(f"{self.name}.query: page {page} needs a size (rows per page); pass size=…, "
                             "or neither to get every matching row")
        names = self._field_list(fieldList)
        columns = [self.table.c[name] for name in names]
        where = self._where(filter)
        statement = self._select(columns, where, orderList)
        if size is None:
            with self._filter_refusals(), self.engine.connect() as conn:
                rows = [self._row(names, found) for found in conn.execute(statement)]
            return {"rowDatas": rows, "totalCount": len(rows)}
        statement = statement.limit(size).offset(((page or 1) - 1) * size)
        count = sa.select(sa.func.count()).select_from(self.table)
        if where is not None:
            count = count.where(where)
        with self._filter_refusals(), self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for both statements, so totalCount agrees with rowDatas.
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                total = conn.execute(count).scalar_one()
                rows = [self._row(names, found) for found in conn.execute(statement)]
        return {"rowDatas": rows, "totalCount": total}

    # -- writing -----------------------------------------------------------------------------------

    def create(self, rowData: Mapping[str, Any], triggerEvent: int = 1) -> Row:
        """Insert one row and return it as stored (with its id and defaults).

        ``triggerEvent`` is JitAi's switch for model events; jitlite accepts it (events are not run).
        """
        _check_trigger(self.name, "create", triggerEvent)
        values = self._insert_values(rowData, "rowData")
        with self._writing() as conn:
            found = conn.execute(sa.insert(self.table).returning(*self.table.columns), values).one()
        return self._row(self.table.columns.keys(), found)

    def createIfAbsent(
        self, rowData: Mapping[str, Any], triggerEvent: int = 1, *, uniqueFields: Sequence[str] | None = None,
        durable: bool = False, busyTimeout: float | None = None,
    ) -> Any | None:
        """Insert one row unless a row with the same unique key exists; return its new primary key, or None.

        One statement (``INSERT … ON CONFLICT DO NOTHING … RETURNING``) in one short transaction:
        of concurrent writers of one key exactly one inserts and none gets an error, and an existing
        row is neither read nor changed. ``uniqueFields`` names the key (default: the model's first
        unique key). Other constraint failures raise ConstraintError as ``create`` does. ``durable``
        syncs this commit to disk on SQLite even when the database's ``synchronous`` is NORMAL, for
        a row that could not be had again after a power loss. ``busyTimeout`` (seconds, SQLite) gives
        up on another process's write lock sooner than the database's busy timeout.
        """
        _check_trigger(self.name, "createIfAbsent", triggerEvent)
        key = self._absent_key(uniqueFields, "createIfAbsent")
        values = self._insert_values(rowData, "rowData")
        columns = tuple(values)
        plan = self._absent_inserts.get((key, columns))
        if plan is None:
            plan = self._absent_inserts[(key, columns)] = self._absent_plan(key, columns)
        statement, sql, binds = plan
        if self._statement_writer is not None:
            try:
                if sql is not None:
                    # PostgreSQL: the statement compiled once and run on the driver in autocommit
                    # (the store of every acknowledged callback, as on SQLite below).
                    found = pg_autocommit_rows(self.engine, sql, {
                        name: values[name] if process is None else process(values[name]) for name, process in binds})
                    return found[0][0] if found else None
                with self._statement_writer.connect() as conn:
                    return conn.execute(statement, values).scalar()
            except sa.exc.IntegrityError as exc:
                raise _refused(self.name, exc.orig) from None
        if sql is not None:
            # SQLite: the statement compiled once, the columns' bind processors applied here, and
            # the driver's cursor run in a transaction of its own. This is the store of every
            # acknowledged callback; SQLAlchemy's per-transaction machinery would cost more than
            # SQLite's insert.
            params = [values[name] if process is None else process(values[name]) for name, process in binds]
            with sqlite_write_cursor(self.engine, durable=durable, busy_timeout=busyTimeout) as cursor:
                if cursor is not None:
                    try:
                        cursor.execute(sql, params)
                        found = cursor.fetchone()
                    except sqlite3.IntegrityError as exc:
                        raise _refused(self.name, exc) from None
                    return None if found is None else found[0]
        with self._writing(durable=durable, busy_timeout=busyTimeout) as conn:
            return conn.execute(statement, values).scalar()

    def createManyIfAbsent(
        self, rowDataList: Sequence[Mapping[str, Any]], triggerEvent: int = 1, *,
        uniqueFields: Sequence[str] | None = None, durable: bool = False, busyTimeout: float | None = None,
    ) -> list[Any | None]:
        """Insert the rows whose unique key is not stored yet, in one statement; return each row's new key or None.

        ``createIfAbsent`` for many rows at once (one ``INSERT … ON CONFLICT DO NOTHING … RETURNING``
        in one transaction): the answer lists, in the order given, the new primary key of each row
        inserted and None for each row whose key was stored already (or came earlier in the list).
        One invalid row fails the whole call before anything is written.
        """
        _check_trigger(self.name, "createManyIfAbsent", triggerEvent)
        if isinstance(rowDataList, (Mapping, str, bytes)):
            raise QueryError(f"{self.name}.createManyIfAbsent: rowDataList is a list of dicts, not one dict")
        key = self._absent_key(uniqueFields, "createManyIfAbsent")
        rows = [self._insert_values(row, f"rowDataList[{i}]") for i, row in enumerate(rowDataList)]
        if not rows:
            return []
        # Rows that leave out different fields: the ones left out are NULL, as in createIfAbsent.
        given = {name for row in rows for name in row} | set(key)
        columns = tuple(name for name in self.fields if name in given)
        rows = [row if len(row) == len(columns) else {name: row.get(name) for name in columns} for row in rows]
        found: Sequence[Sequence[Any]]
        try:
            plan = self._unnest_plan(key, columns) if self._statement_writer is not None else None
            if plan is not None:
                # PostgreSQL: one statement of fixed text whatever the number of rows (a column of
                # values is an array), run on the driver (a group of callbacks' store).
                sql, binds = plan
                found = pg_autocommit_rows(self.engine, sql, {
                    f"c{i}": [row[name] if process is None else process(row[name]) for row in rows]
                    for i, (name, process) in enumerate(binds)})
            elif self._statement_writer is not None:  # PostgreSQL: the one statement is its own transaction
                with self._statement_writer.connect() as conn:
                    found = conn.execute(self._many_insert(key), rows).all()
            else:
                stored = self._sqlite_many(key, columns, rows, durable=durable, busy_timeout=busyTimeout)
                if stored is not None:
                    return stored
                with self._writing(durable=durable, busy_timeout=busyTimeout) as conn:
                    found = conn.execute(self._many_insert(key), rows).all()
        except sa.exc.IntegrityError as exc:
            raise _refused(self.name, exc.orig) from None
        return _ids_by_key(found, [tuple(values.get(name) for name in key) for values in rows])

    def _on_conflict(self, key: tuple[str, ...]) -> Any:
        """Return ``INSERT … ON CONFLICT (key) DO NOTHING`` on the model's table, for its dialect."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        return insert(self.table).on_conflict_do_nothing(index_elements=list(key))

    def _many_insert(self, key: tuple[str, ...]) -> Any:
        """Return createManyIfAbsent's SQLAlchemy statement (RETURNING the id and the key), built once per key."""
        statement = self._many_inserts.get(key)
        if statement is None:
            statement = self._many_inserts[key] = self._on_conflict(key).returning(
                self._pk_column, *(self.table.c[name] for name in key))
        return statement

    def _conflict_sql(self, key: tuple[str, ...]) -> tuple[str, str]:
        """Return the quoted table and ``ON CONFLICT (key) DO NOTHING RETURNING id, key`` of the driver-level SQL."""
        preparer = self.engine.dialect.identifier_preparer
        keys = ", ".join(preparer.quote(name) for name in key)
        return (preparer.format_table(self.table),
                f"ON CONFLICT ({keys}) DO NOTHING RETURNING {preparer.quote(self.pk)}, {keys}")

    def _sqlite_many(self, key: tuple[str, ...], columns: tuple[str, ...], rows: list[dict[str, Any]], *,
                     durable: bool, busy_timeout: float | None) -> list[Any | None] | None:
        """Store rows with one multi-row ``INSERT … VALUES`` on SQLite's lean writer; None if SQLAlchemy must.

        The statement runs on the driver, as createIfAbsent's does, with the columns' bind
        processors applied here; rows are matched to their new ids by the key as stored.
        """
        if len(rows) * len(columns) > self.engine.dialect.insertmanyvalues_max_parameters:
            return None  # SQLAlchemy splits the statement (still one transaction)
        plan = self._values_plans.get((key, columns))
        if plan is None:
            quote = self.engine.dialect.identifier_preparer.quote
            table, conflict = self._conflict_sql(key)
            head = f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) VALUES "
            tail = f" {conflict}"
            one_row = f"({', '.join('?' for _ in columns)})"
            binds = [self._bind_processors[name] for name in columns]
            plan = self._values_plans[(key, columns)] = (head, one_row, tail, binds)
        head, one_row, tail, binds = plan
        bound = [[value if process is None else process(value) for value, process in
                  zip((row[name] for name in columns), binds, strict=True)] for row in rows]
        positions = [columns.index(name) for name in key]
        with sqlite_write_cursor(self.engine, durable=durable, busy_timeout=busy_timeout) as cursor:
            if cursor is None:
                return None
            try:
                cursor.execute(head + ", ".join([one_row] * len(rows)) + tail,
                               [value for values in bound for value in values])
                found = cursor.fetchall()
            except sqlite3.IntegrityError as exc:
                raise _refused(self.name, exc) from None
        # The key as the driver stored it (a date-time as text), which is how RETURNING gives it back.
        return _ids_by_key(found, [tuple(values[i] for i in positions) for values in bound])

    def _unnest_plan(self, key: tuple[str, ...], columns: tuple[str, ...]) -> tuple[str, list[tuple[str, Any]]] | None:
        """Return createManyIfAbsent's PostgreSQL SQL for these columns (one array parameter each) and its binds.

        ``INSERT … SELECT * FROM unnest(%(c0)s::type[], …)``: the text is the same for any number of
        rows, so the driver parses it once and the server prepares it once. None when a column's
        type is not a plain scalar the driver sends as an array (JSON): SQLAlchemy binds those.
        """
        if (key, columns) in self._unnest_plans:
            return self._unnest_plans[(key, columns)]
        dialect = self.engine.dialect
        quote = dialect.identifier_preparer.quote
        arrays: list[str] = []
        plan: tuple[str, list[tuple[str, Any]]] | None = None
        for position, name in enumerate(columns):
            sql_type = _TYPE_PARAMETERS.sub("", self.table.c[name].type.compile(dialect=dialect))
            if not _UNNEST_TYPES.fullmatch(sql_type):
                break
            arrays.append(f"%(c{position})s::{sql_type}[]")
        else:
            table, conflict = self._conflict_sql(key)
            sql = (f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) "
                   f"SELECT * FROM unnest({', '.join(arrays)}) {conflict}")
            binds = [(name, self._bind_processors[name]) for name in columns]
            plan = (sql, binds)
        self._unnest_plans[(key, columns)] = plan
        return plan

    def _absent_key(self, uniqueFields: Sequence[str] | None, method: str) -> tuple[str, ...]:
        """Return the unique key createIfAbsent and createManyIfAbsent match rows on (remembered per argument)."""
        asked = (None if uniqueFields is None
                 else (uniqueFields,) if isinstance(uniqueFields, str) else tuple(uniqueFields))
        key = self._absent_keys.get(asked)
        if key is None:
            key = self._conflict_key(uniqueFields, method)
            if key == (self.pk,) and self.fields[self.pk].autoincrement:
                raise QueryError(f"{self.name}.{method}: the model has no unique key besides its AutoInt id; "
                                 "declare __unique__ or unique=True on a field")
            self._absent_keys[asked] = key
        return key

    def _absent_plan(
        self, key: tuple[str, ...], columns: tuple[str, ...]
    ) -> tuple[Any, str | None, list[tuple[str, Any]]]:
        """Return createIfAbsent's statement for these columns, its SQL and its parameters.

        The parameters are (column, bind processor) pairs, in the order the SQL takes them on
        SQLite (positional) and by name on PostgreSQL. The SQL is None when SQLAlchemy must bind
        the statement itself.
        """
        dialect = self.engine.dialect
        statement = self._on_conflict(key).returning(self._pk_column)
        if dialect.name not in ("sqlite", "postgresql"):
            return statement, None, []
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        if dialect.name == "sqlite":
            order = tuple(compiled.positiontup or ())
        else:  # named parameters, unless a column's name had to be escaped into another one
            order = () if compiled.escaped_bind_names else tuple(compiled.binds)
        if sorted(order) != sorted(columns):
            return statement, None, []  # parameters other than the values: let SQLAlchemy bind them
        binds = [(name, self._bind_processors[name]) for name in order]
        return statement, str(compiled), binds

    def updateAndReturn(
        self,
        filter: FilterArg,
        updateData: Mapping[str, Any],
        *,
        increments: Mapping[str, int] | None = None,
        fieldList: Sequence[str] | None = None,
    ) -> list[Row]:
        """Update every row matching ``filter`` in one statement and return the rows as updated.

        ``increments`` adds to integer fields in the same statement (``{"attempts": 1}``), so a
        conditional claim reads nothing first. ``fieldList`` limits the returned fields.
        """
        where = self._required_where(filter, "updateAndReturn")
        changes = self._update_values(updateData, "updateData")
        for name, amount in (increments or {}).items():
            field = self.fields.get(name)
            if field is None:
                raise self._unknown(name, "increments")
            if name in changes or name == self.pk:
                raise QueryError(f"{self.name}.updateAndReturn: {name!r} is both set and incremented, or is the "
                                 "primary key; increment fields that updateData leaves alone")
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise QueryError(f"{self.name}.updateAndReturn: the increment of {name!r} must be an int, "
                                 f"got {amount!r}")
            changes[name] = self.table.c[name] + amount
        if not changes:
            raise QueryError(f"{self.name}.updateAndReturn: updateData and increments are both empty")
        names = self._field_list(fieldList)
        statement = (sa.update(self.table).where(_true_if_none(where)).values(self._stamped(changes))
                     .returning(*(self.table.c[name] for name in names)))
        with self._filter_refusals(), self._writing() as conn:
            found = conn.execute(statement).all()
        return [self._row(names, row) for row in found]

    def updateOrAdd(
        self,
        filter: FilterArg,
        orderList: Sequence[Sequence[Any]] | Mapping[str, Any] | None = None,
        updateData: Mapping[str, Any] | None = None,
        addData: Mapping[str, Any] | None = None,
        triggerEvent: int = 1,
    ) -> Row:
        """Update the row ``filter`` finds with ``updateData``, or insert ``addData``; return the row.

        JitAi's form is ``updateOrAdd(filter, orderList, updateData, addData)``: of several matching
        rows the first in ``orderList`` order is updated. jitlite's shorter ``updateOrAdd(filter,
        updateData)`` works too; without an ``orderList`` the filter must match at most one row. An
        inserted row gets the filter's ``field=value`` equalities plus ``addData`` (or ``updateData``
        when there is no ``addData``).
        """
        _check_trigger(self.name, "updateOrAdd", triggerEvent)
        order_list: Sequence[Sequence[Any]] | None
        if isinstance(orderList, Mapping):  # jitlite's shorter form: updateOrAdd(filter, updateData)
            if updateData is not None:
                raise QueryError(f"{self.name}.updateOrAdd: the second argument is orderList (a list of "
                                 "[field, 1 | -1]) when updateData is given; got a dict")
            order_list, update = None, orderList
        else:
            order_list, update = orderList, ({} if updateData is None else updateData)
        add = update if addData is None else addData
        q = to_q(filter)
        where = _true_if_none(self._where(q))
        changes = self._update_values(update, "updateData")
        order = None if order_list is None else self._order(order_list)
        with self._filter_refusals():
            try:
                return self._update_or_add(q, where, order, changes, add)
            except ConstraintError:
                # Another writer inserted the same key between our SELECT and INSERT (PostgreSQL;
                # SQLite writers are serialised): a second attempt finds that row and updates it.
                return self._update_or_add(q, where, order, changes, add)

    def _update_or_add(
        self,
        q: Q,
        where: ColumnElement[bool],
        order: list[ColumnElement[Any]] | None,
        changes: dict[str, Any],
        addData: Mapping[str, Any],
    ) -> Row:
        columns = self.table.columns
        with self._writing() as conn:
            if order is None:
                keys = conn.execute(sa.select(self._pk_column).where(where).limit(2)).scalars().all()
                if len(keys) > 1:
                    raise AmbiguousFilterError(
                        f"{self.name}.updateOrAdd: the filter {q!r} matches several rows; it must identify one, "
                        "or pass an orderList to update the first"
                    )
            else:
                keys = conn.execute(sa.select(self._pk_column).where(where).order_by(*order).limit(1)).scalars().all()
            if keys and changes:
                statement = sa.update(self.table).where(self._pk_column == keys[0]).values(self._stamped(changes))
                found = conn.execute(statement.returning(*columns)).one()
            elif keys:
                found = conn.execute(sa.select(*columns).where(self._pk_column == keys[0])).one()
            else:
                values = self._insert_values({**_equalities(q), **addData}, "addData")
                found = conn.execute(sa.insert(self.table).returning(*columns), values).one()
        return self._row(columns.keys(), found)

    def createOrUpdateMany(
        self,
        rowDataList: Iterable[Mapping[str, Any]],
        triggerEvent: int = 1,
        *,
        uniqueFields: Sequence[str] | None = None,
        batchSize: int = 1000,
    ) -> int:
        """Insert or update many rows by a unique key, one statement per batch, in one transaction.

        Rows are matched on ``uniqueFields`` (default: the model's first unique key). A model with
        no unique key but an AutoInt id matches on the id: a row carrying one updates (or inserts)
        that row, a row without one is inserted. An existing row is only rewritten when a supplied
        value differs, so sending the same rows again changes nothing. Returns how many rows were
        inserted or changed (JitAi returns the rows; jitlite the count, which bulk writes need).
        Rows carrying Secret values always count as changed: their ciphertext is new each time.
        """
        _check_trigger(self.name, "createOrUpdateMany", triggerEvent)
        if isinstance(batchSize, bool) or not isinstance(batchSize, int) or batchSize < 1:
            raise QueryError(f"{self.name}.createOrUpdateMany: batchSize must be a positive integer, got {batchSize!r}")
        if self.engine.dialect.name not in ("sqlite", "postgresql"):
            raise StorageError(f"createOrUpdateMany supports SQLite and PostgreSQL, not {self.engine.dialect.name}")
        if isinstance(rowDataList, (Mapping, str, bytes)):
            raise QueryError(f"{self.name}.createOrUpdateMany: rowDataList is a list of dicts, not one dict")
        key = self._conflict_key(uniqueFields)
        changed = 0
        explicit_ids = False
        with self._writing() as conn:
            batch: list[Mapping[str, Any]] = []
            start = 0
            for row in rowDataList:
                batch.append(row)
                if len(batch) == batchSize:
                    changed += self._upsert_batch(conn, batch, start, key)
                    explicit_ids = explicit_ids or self._carry_pk(batch)
                    start += len(batch)
                    batch = []
            if batch:
                changed += self._upsert_batch(conn, batch, start, key)
                explicit_ids = explicit_ids or self._carry_pk(batch)
            if explicit_ids and conn.dialect.name == "postgresql":
                # Rows inserted with their own ids leave the id sequence behind; move it past them.
                quote = conn.dialect.identifier_preparer
                table = quote.format_table(self.table)  # quoted: the function folds unquoted names
                conn.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                            f"GREATEST((SELECT MAX({quote.quote(self.pk)}) FROM {table}), 1))"),
                    {"table": table, "column": self.pk},
                )
        return changed

    @overload
    def updateByPK(self, pkList: PkList, updateData: Mapping[str, Any], triggerEvent: int = 1) -> list[Row]: ...

    @overload
    def updateByPK(self, pkList: int | str, updateData: Mapping[str, Any], triggerEvent: int = 1) -> Row | None: ...

    def updateByPK(
        self, pkList: Any, updateData: Mapping[str, Any], triggerEvent: int = 1
    ) -> list[Row] | Row | None:
        """Update the rows with these primary keys; return them as updated.

        ``pkList`` is a list (JitAi's form): the rows found are returned, in key order. A single
        key returns its row, or None if there is none.
        """
        _check_trigger(self.name, "updateByPK", triggerEvent)
        many = _is_pk_list(pkList)
        keys = self._pk_values(pkList if many else [pkList])
        changes = self._update_values(updateData, "updateData")
        updated: list[Row] = []
        if not changes:
            for chunk in _pk_chunks(keys):
                updated += self.query(Q(**{f"{self.pk}__in": chunk}), orderList=[[self.pk, 1]])["rowDatas"]
        else:
            values = self._stamped(changes)
            with self._writing() as conn:
                for chunk in _pk_chunks(keys):
                    statement = sa.update(self.table).where(self._pk_column.in_(chunk)).values(values)
                    updated += [self._row(self.table.columns.keys(), found)
                                for found in conn.execute(statement.returning(*self.table.columns))]
            updated.sort(key=lambda row: row[self.pk])
        if many:
            return updated
        return updated[0] if updated else None

    def deleteByPK(self, pkList: Any, triggerEvent: int = 1) -> int:
        """Delete the rows with these primary keys (a list, or one key); return how many were deleted."""
        _check_trigger(self.name, "deleteByPK", triggerEvent)
        keys = self._pk_values(pkList if _is_pk_list(pkList) else [pkList])
        deleted = 0
        with self._writing() as conn:
            for chunk in _pk_chunks(keys):
                deleted += conn.execute(sa.delete(self.table).where(self._pk_column.in_(chunk))).rowcount
        return deleted

    def updateByFilter(self, filter: FilterArg, updateData: Mapping[str, Any]) -> int:
        """Update every row matching ``filter``; return how many matched."""
        where = self._required_where(filter, "updateByFilter")
        changes = self._update_values(updateData, "updateData")
        if not changes:
            raise QueryError(f"{self.name}.updateByFilter: updateData is empty")
        statement = sa.update(self.table).where(_true_if_none(where)).values(self._stamped(changes))
        with self._filter_refusals(), self._writing() as conn:
            return conn.execute(statement).rowcount

    def deleteByFilter(self, filter: FilterArg) -> int:
        """Delete every row matching ``filter``; return how many were deleted."""
        where = self._required_where(filter, "deleteByFilter")
        with self._filter_refusals(), self._writing() as conn:
            return conn.execute(sa.delete(self.table).where(_true_if_none(where))).rowcount

    def rotate_secrets(self, batch_size: int = 500) -> int:
        """Re-encrypt every stored secret under the box's first key; return how many rows were rewritten."""
        if not self._secrets or self._box is None:
            return 0
        box = self._box
        names = sorted(self._secrets)
        selected = sa.select(self._pk_column, *(self.table.c[n] for n in names)).order_by(self._pk_column)
        update = (
            sa.update(self.table)
            .where(self._pk_column == sa.bindparam("_pk"))
            .values({n: sa.bindparam(f"_{n}") for n in names})
        )
        rotated = 0
        with self._writing() as conn:
            rows = conn.execute(selected).all()
            for offset in range(0, len(rows), batch_size):
                params = [
                    {
                        "_pk": row[0],
                        **{f"_{n}": None if v is None else box.rotate(v) for n, v in zip(names, row[1:], strict=True)},
                    }
                    for row in rows[offset : offset + batch_size]
                ]
                conn.execute(update, params)
                rotated += len(params)
        return rotated

    # -- internals ---------------------------------------------------------------------------------

    @contextmanager
    def _filter_refusals(self) -> Iterator[None]:
        """Turn a database's refusal of a filter too large to run into FilterError, without SQL text."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            refusal = filter_error_from_database(exc, self.name)
            if refusal is None:
                raise
            raise refusal from None

    @contextmanager
    def _writing(self, *, durable: bool = False, busy_timeout: float | None = None) -> Iterator[Connection]:
        """Run a write transaction whose integrity errors become ConstraintError naming the model."""
        writer = self._durable_writer if durable else self._writer
        if busy_timeout is not None:
            bounded = self._bounded_writers.get((durable, busy_timeout))
            if bounded is None:
                bounded = self._bounded_writers[(durable, busy_timeout)] = bounded_write_engine(writer, busy_timeout)
            writer = bounded
        try:
            with write_transaction(writer) as conn:
                yield conn
        except sa.exc.IntegrityError as exc:
            raise _refused(self.name, exc.orig) from None

    def _make_writer(self, field: Field) -> Callable[[Any], Any]:
        convert = field.writer()
        if not field.secret:
            return convert
        box = self._box

        def write_secret(value: Any) -> Any:
            text = convert(value)
            return None if text is None or box is None else box.encrypt(text)

        return write_secret

    def _row(self, names: Sequence[str], values: Sequence[Any]) -> Row:
        data = dict(zip(names, values, strict=True))
        if self._secrets and self._box is not None:
            for name in self._secrets:
                if data.get(name) is not None:
                    data[name] = self._box.decrypt(data[name])
        return _row_class(tuple(names))(self.name, data, self._secrets)

    def _unknown(self, name: str, where: str) -> UnknownFieldError:
        return UnknownFieldError(self.name, name, self.fields, where)

    def _convert(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise FieldValueError(f"{self.name}: {where} must be a dict of field → value, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            writer = self._writers.get(name)
            if writer is None:
                raise self._unknown(name, where)
            try:
                values[name] = writer(value)
            except (TypeError, ValueError) as exc:
                raise FieldValueError(f"{self.name}.{name} ({where}): {exc}") from None
        return values

    def _insert_values(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        values = self._convert(data, where)
        for name, field in self.fields.items():
            if name in values:
                if field.autoincrement:
                    raise FieldValueError(
                        f"{self.name}.{name} ({where}): the database assigns it (AutoInt); leave it out"
                    )
                continue
            if field.has_default:
                values[name] = self._writers[name](field.make_default())
            elif field.on_update is not None:
                values[name] = self._writers[name](field.on_update())
            elif field.required:
                raise FieldValueError(f"{self.name}.{name} ({where}): a value is required (the field is not nullable)")
        return values

    def _update_values(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        values = self._convert(data, where)
        if self.pk in values:
            raise FieldValueError(f"{self.name}.{self.pk} ({where}): the primary key cannot be changed")
        return values

    def _pk_value(self, pk: Any) -> Any:
        try:
            return self.fields[self.pk].to_db(pk)
        except (TypeError, ValueError) as exc:
            raise FieldValueError(f"{self.name}.{self.pk} (primary key): {exc}") from None

    def _pk_values(self, pks: Iterable[Any]) -> list[Any]:
        return list(dict.fromkeys(self._pk_value(pk) for pk in pks))

    def _carry_pk(self, rows: list[Mapping[str, Any]]) -> bool:
        """Tell whether some rows give their own value of an auto-increment primary key."""
        return self.fields[self.pk].autoincrement and any(self.pk in row for row in rows)

    def _stamped(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Return ``changes`` plus the values of fields refreshed on every update (``on_update``)."""
        stamps = {name: self._writers[name](field.on_update())
                  for name, field in self.fields.items() if field.on_update is not None and name not in changes}
        return {**changes, **stamps} if stamps else changes

    def _where(self, filter: FilterArg) -> ColumnElement[bool] | None:
        return compile_filter(to_q(filter), model=self.name, fields=self.fields, columns=self._columns)

    def _required_where(self, filter: FilterArg, method: str) -> ColumnElement[bool] | None:
        if filter is None:
            raise FilterError(f"{self.name}.{method} needs a filter; pass Q() to mean every row")
        return self._where(filter)

    def _field_list(self, fieldList: Sequence[str] | None) -> list[str]:
        if fieldList is None:
            return list(self.fields)
        if isinstance(fieldList, str) or not all(isinstance(n, str) for n in fieldList):
            raise QueryError(f"{self.name}: fieldList is a list of field names, got {fieldList!r:.100}")
        names = list(dict.fromkeys(fieldList))
        for name in names:
            if name not in self.fields:
                raise self._unknown(name, "fieldList")
        return names or list(self.fields)

    def _order(self, orderList: Sequence[Sequence[Any]] | None) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        seen: set[str] = set()
        for item in orderList or ():
            if isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2:
                raise QueryError(f"{self.name}: orderList entries are [field, 1 | -1], got {item!r:.100}")
            name, direction = item
            if name not in self.fields:
                raise self._unknown(str(name), "orderList")
            if isinstance(direction, bool) or direction not in (1, -1):
                raise QueryError(f"{self.name}: orderList direction for {name!r} must be 1 or -1, got {direction!r}")
            field = self.fields[name]
            if not field.orderable:
                raise QueryError(f"{self.name}: cannot order by {type(field).__name__} field {name!r}")
            column = self.table.c[name]
            # NULL sorts lowest on both engines (SQLite and PostgreSQL disagree by default).
            clauses.append(column.asc().nulls_first() if direction == 1 else column.desc().nulls_last())
            seen.add(name)
        if self.pk not in seen:
            clauses.append(self._pk_column.asc())  # a stable order, so pages never overlap
        return clauses

    def _select(
        self,
        columns: Iterable[ColumnElement[Any]],
        where: ColumnElement[bool] | None,
        orderList: Sequence[Sequence[Any]] | None,
    ) -> sa.Select[Any]:
        statement = sa.select(*columns)
        if where is not None:
            statement = statement.where(where)
        return statement.order_by(*self._order(orderList))

    # -- bulk upsert -------------------------------------------------------------------------------

    def _conflict_key(self, uniqueFields: Sequence[str] | None,
                      method: str = "createOrUpdateMany") -> tuple[str, ...]:
        # index_specs lists __unique__ first, then unique=True fields: the default key is the first.
        keys = [spec.columns for spec in self.model.index_specs() if spec.unique]
        if not self.fields[self.pk].autoincrement:
            keys.append((self.pk,))
        if uniqueFields is None:
            if keys:
                return keys[0]
            if self.fields[self.pk].autoincrement:
                return (self.pk,)  # rows carrying their id update it; the others are inserted
            raise QueryError(
                f"{self.name}.{method}: the model has no unique key to match rows on; declare "
                "__unique__ or unique=True on a field"
            )
        wanted = [uniqueFields] if isinstance(uniqueFields, str) else list(uniqueFields)
        for name in wanted:
            if name not in self.fields:
                raise self._unknown(name, "uniqueFields")
        for key in keys:
            if set(key) == set(wanted):
                return key
        raise QueryError(
            f"{self.name}.{method}: uniqueFields {wanted} is not a unique key of the "
            f"model; its unique keys are {[list(k) for k in keys]}"
        )

    def _plan(self, keys: tuple[str, ...], conflict: tuple[str, ...], position: int) -> _UpsertPlan:
        where = f"rowDataList[{position}]"
        # Matching on an AutoInt id (a model without a unique key): rows without an id are inserted.
        by_id = conflict == (self.pk,) and self.fields[self.pk].autoincrement
        for name in keys:
            if name not in self.fields:
                raise self._unknown(name, where)
            if self.fields[name].autoincrement and not by_id:
                raise FieldValueError(f"{self.name}.{name} ({where}): the database assigns it (AutoInt); leave it out")
        insert_only = by_id and self.pk not in keys
        for name in conflict:
            if name not in keys and not insert_only:
                raise FieldValueError(f"{self.name} ({where}): the unique key field {name!r} is missing")
        defaulted: list[Field] = []
        for name, field in self.fields.items():
            if name in keys or field.autoincrement:
                continue
            if field.has_default or field.on_update is not None:
                defaulted.append(field)
            elif field.required:
                raise FieldValueError(f"{self.name}.{name} ({where}): a value is required (the field is not nullable)")
        columns = keys + tuple(field.name for field in defaulted)
        dialect = self.engine.dialect
        insert = (sqlite.insert if dialect.name == "sqlite" else postgresql.insert)(self.table)
        updated = [name for name in keys if name not in conflict]
        stamps = [field.name for field in defaulted if field.on_update is not None]
        target = [self.table.c[name] for name in conflict]
        statement: Any
        if insert_only:
            statement = insert
        elif updated:
            statement = insert.on_conflict_do_update(
                index_elements=target,
                set_={name: insert.excluded[name] for name in [*updated, *stamps]},
                # Leave rows whose values did not change untouched: no write, no new row version.
                where=sa.or_(*(self.table.c[n].is_distinct_from(insert.excluded[n]) for n in updated)),
            )
        else:
            statement = insert.on_conflict_do_nothing(index_elements=target)
        writers = [_not_none(self._writers[n]) if n in conflict else self._writers[n] for n in keys]
        defaults = [_default_maker(self._writers[f.name], f) for f in defaulted]
        sql: str | None = None
        order: tuple[int, ...] | None = None
        if dialect.name == "sqlite":
            # sqlite3's executemany runs one prepared statement over the whole batch in C; going
            # through SQLAlchemy's per-row parameter processing would double the time. So the
            # statement is compiled once and the columns' bind processors are folded into the writers.
            compiled = statement.compile(dialect=dialect, column_keys=list(columns))
            positions = tuple(columns.index(name) for name in compiled.positiontup or ())
            if sorted(positions) != list(range(len(columns))):
                raise StorageError(f"{self.name}: unexpected parameters in the upsert statement: {positions}")
            sql = str(compiled)
            order = None if positions == tuple(range(len(columns))) else positions
            processors = [self._bind_processors[name] for name in columns]
            writers = [_then(w, p) for w, p in zip(writers, processors, strict=False)]
            defaults = [_then_call(d, p) for d, p in zip(defaults, processors[len(keys) :], strict=True)]
        else:
            # RETURNING yields exactly the inserted or changed rows, and makes SQLAlchemy send each
            # batch as one multi-row INSERT (its "insertmanyvalues" mode).
            statement = statement.returning(self._pk_column)
        return _UpsertPlan(
            keys=keys,
            writers=tuple(writers),
            defaults=tuple(defaults),
            unique=None if insert_only else operator.itemgetter(*(columns.index(name) for name in conflict)),
            columns=columns,
            statement=statement,
            sql=sql,
            order=order,
        )

    def _upsert_batch(
        self, conn: Connection, batch: list[Mapping[str, Any]], start: int, conflict: tuple[str, ...]
    ) -> int:
        groups: dict[_UpsertPlan, dict[Any, tuple[Any, ...]]] = {}
        plans: dict[tuple[str, ...], _UpsertPlan] = {}
        for offset, row in enumerate(batch):
            if not isinstance(row, Mapping):
                raise FieldValueError(
                    f"{self.name}: rowDataList[{start + offset}] is a {type(row).__name__}, not a dict")
            keys = tuple(row)
            plan = plans.get(keys)
            if plan is None:
                plan = self._plans.get((keys, conflict))
                if plan is None:
                    plan = self._plans[(keys, conflict)] = self._plan(keys, conflict, start + offset)
                plans[keys] = plan
            try:
                # row.values() is in the order of `keys`, the order the plan's writers follow.
                values = tuple(map(_call, plan.writers, row.values()))
            except (TypeError, ValueError):
                raise self._row_error(row, plan, start + offset) from None
            if plan.defaults:
                values += tuple(make() for make in plan.defaults)
            # The last of several rows with one key wins: PostgreSQL refuses to touch a row twice
            # in one statement.
            rows = groups.setdefault(plan, {})
            rows[len(rows) if plan.unique is None else plan.unique(values)] = values
        changed = 0
        for plan, rows in groups.items():
            if plan.sql is not None:
                params = list(rows.values())
                if plan.order is not None:
                    params = [tuple([row[i] for i in plan.order]) for row in params]
                # sqlite3 sums the changes of every row: an upsert that changed nothing counts 0.
                changed += conn.exec_driver_sql(plan.sql, params).rowcount
            else:
                params_by_name = [dict(zip(plan.columns, row, strict=True)) for row in rows.values()]
                changed += len(conn.execute(plan.statement, params_by_name).all())
        return changed

    def _row_error(self, row: Mapping[str, Any], plan: _UpsertPlan, position: int) -> FieldValueError:
        for name, write in zip(plan.keys, plan.writers, strict=True):
            try:
                write(row[name])
            except (TypeError, ValueError) as exc:
                return FieldValueError(f"{self.name}.{name} (rowDataList[{position}]): {exc}")
        return FieldValueError(f"{self.name} (rowDataList[{position}]): invalid row")


def _check_trigger(model: str, method: str, triggerEvent: Any) -> None:
    """Accept JitAi's ``triggerEvent`` (1 or 0; model events are not run by jitlite), refuse anything else."""
    if triggerEvent not in (0, 1) or not isinstance(triggerEvent, int):
        raise QueryError(f"{model}.{method}: triggerEvent is 1 or 0, got {triggerEvent!r:.40}")


def _is_pk_list(pks: Any) -> bool:
    return isinstance(pks, (list, tuple, set, frozenset))


def _ids_by_key(found: Sequence[Sequence[Any]], keys: list[tuple[Any, ...]]) -> list[Any | None]:
    """Answer each row's new id (RETURNING id and the key) in the order given; None for a row not inserted.

    A row skipped as a conflict is not returned, and of two rows with one key only the first is inserted.
    """
    inserted = {tuple(row[1:]): row[0] for row in found}
    return [inserted.pop(row_key, None) for row_key in keys]


def _refused(model: str, orig: BaseException | None) -> ConstraintError:
    """Return the ConstraintError of a refused write: the driver's reason without its detail lines.

    PostgreSQL's DETAIL quotes the failing row (every column, a Secret's ciphertext among them), so
    the caller raises this ``from None``: a chained driver error would print that row in a traceback.
    """
    text = str(orig).strip()
    return ConstraintError(f"{model}: the database refused the write: "
                           f"{text.splitlines()[0] if text else type(orig).__name__}")


# Primary keys per statement: far below what SQLite and PostgreSQL can bind.
_PK_CHUNK = 1000


def _pk_chunks(keys: list[Any]) -> Iterator[list[Any]]:
    for offset in range(0, len(keys), _PK_CHUNK):
        yield keys[offset : offset + _PK_CHUNK]


def _not_none(write: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Return ``write`` refusing None: NULL never conflicts, so a NULL key would duplicate rows."""

    def check(value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be None: it is part of the unique key the rows are matched on")
        return write(value)

    return check


# Call a writer on a value at C speed through map() (operator.call is new in Python 3.11).
_call: Callable[[Callable[[Any], Any], Any], Any] = getattr(operator, "call", lambda write, value: write(value))


def _default_maker(write: Callable[[Any], Any], field: Field) -> Callable[[], Any]:
    """Return a function giving the stored form of a fresh default for ``field`` (or its on_update value)."""
    if not field.has_default and field.on_update is not None:
        stamp = field.on_update
        return lambda: write(stamp())
    return lambda: write(field.make_default())


def _then(first: Callable[[Any], Any], then: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """Return ``then(first(value))``, or ``first`` itself when there is nothing to add."""
    if then is None:
        return first
    return lambda value: then(first(value))


def _then_call(first: Callable[[], Any], then: Callable[[Any], Any] | None) -> Callable[[], Any]:
    """Return ``then(first())``, or ``first`` itself when there is nothing to add."""
    if then is None:
        return first
    return lambda: then(first())


def _true_if_none(where: ColumnElement[bool] | None) -> ColumnElement[bool]:
    return sa.true() if where is None else where


def _equalities(q: Q) -> dict[str, Any]:
    """Return the ``field=value`` terms a filter is AND-ed from, to fill in an inserted row."""
    node = q.node
    terms = node.children if isinstance(node, _And) else (node,)
    return {
        term.field: term.value
        for term in terms
        if isinstance(term, Condition) and term.lookup == "eq" and term.value is not None
    }
