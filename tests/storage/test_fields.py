"""Field declarations and model classes: value checks and the mistakes caught at class creation."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from jitlite.storage import (
    AutoInt,
    Boolean,
    Checkbox,
    Date,
    Datetime,
    Email,
    Field,
    Integer,
    JitDict,
    JitList,
    Json,
    Ltext,
    Model,
    ModelDefinitionError,
    Money,
    Numeric,
    Phone,
    Secret,
    Stext,
    create_sqlite_engine,
)


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        (Stext(max_length=3), "abc", "abc"),
        (Ltext(), "x" * 100_000, "x" * 100_000),
        (Integer(), -(2**63), -(2**63)),
        (Numeric(5, 2), "1.005", Decimal("1.01")),
        (Numeric(5, 2), 0.1, Decimal("0.10")),
        (Numeric(5, 2), -999.99, Decimal("-999.99")),
        (Boolean(), 1, True),
        (Checkbox(), False, False),
        (Datetime(), "2024-01-01T08:00:00+08:00", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        (Datetime(), "2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        (JitList(), (1, "二"), '[1, "二"]'),
        (JitDict(), {"a": None}, '{"a": null}'),
        (Json(), "text", '"text"'),
        (Secret(), "s", "s"),
        (Date(), "2024-02-29", date(2024, 2, 29)),
        (Date(), date(2023, 1, 1), date(2023, 1, 1)),
        (Money(), "19.999", Decimal("20.00")),
        (Money(), 5, Decimal("5.00")),
        (Phone(), "13800138000", "13800138000"),
        (Phone(rules="eight"), "12345678", "12345678"),
        (Phone(rules="tel"), "010-12345678", "010-12345678"),
        (Phone(rules="mobileOrTel"), "0755-2345678-123", "0755-2345678-123"),
        (Email(), "zhang.san@example.com.cn", "zhang.san@example.com.cn"),
        (Stext(min_length=2), "ab", "ab"),
        (Stext(choices=["active", "closed"]), "closed", "closed"),
        (Ltext(max_length=4), "abcd", "abcd"),
    ],
)
def test_values_are_converted_for_storage(field: Field, value: Any, stored: Any) -> None:
    assert field.to_db(value) == stored
    assert field.writer()(value) == stored


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (Stext(max_length=3), "abcd", "text is 4 characters long; the field allows 3"),
        (Stext(), 5, "expected text, got int"),
        (Integer(), True, "expected an integer, got bool"),
        (Integer(), 2**63, "does not fit in 64 bits"),
        (Integer(), 1.0, "expected an integer, got float"),
        (Numeric(5, 2), "1000", "does not fit Numeric(5, 2)"),
        (Numeric(5, 2), "999.999", "does not fit Numeric(5, 2)"),
        (Numeric(5, 2), float("nan"), "NaN and infinity cannot be stored"),
        (Numeric(5, 2), "12abc", "is not a number"),
        (Boolean(), 2, "expected True or False"),
        (Datetime(), datetime(2024, 1, 1), "needs a timezone-aware datetime"),
        (Datetime(), "2024-01-01 08:00", "needs a timezone-aware datetime"),
        (Datetime(), 1700000000, "expected a datetime, got int"),
        (JitList(), {"a": 1}, "expected a list, got dict"),
        (JitDict(), [1], "expected a dict, got list"),
        (Json(), float("inf"), "not JSON-serialisable"),
        (Json(), object(), "not JSON-serialisable"),
        (Json(), "a\x00", "NUL character"),
        (Secret(), 123, "expected text, got int"),
        (Stext(nullable=False), None, "cannot be None"),
        (Date(), "2024-02-30", "'2024-02-30' is not an ISO 8601 date (YYYY-MM-DD)"),
        (Date(), datetime(2024, 1, 1, tzinfo=timezone.utc), "expected a date, got a datetime"),
        (Date(), 20240101, "expected a date, got int"),
        (Money(precision=4), "100.00", "does not fit Numeric(4, 2)"),
        (Phone(), "1380013800", "'1380013800' is not a phone number: expected 11 digits"),
        (Phone(rules="tel"), "13800138000x", "expected a landline number"),
        (Phone(rules="mobileOrTel"), "2345", "a mobile number (11 digits starting with 1) or a landline"),
        (Email(), "zhang.san@localhost", "is not an email address"),
        (Email(), "a b@example.com", "is not an email address"),
        (Stext(min_length=2), "a", "text is 1 characters long; the field needs at least 2"),
        (Stext(choices=["active", "closed"]), "open", "'open' is not one of the options ('active', 'closed')"),
        (Ltext(max_length=4), "abcde", "text is 5 characters long; the field allows 4"),
    ],
)
def test_bad_values_say_why(field: Field, value: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        field.to_db(value)
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        field.writer()(value)


def test_datetime_keeps_the_instant() -> None:
    beijing = timezone(timedelta(hours=8))
    value = Datetime().to_db(datetime(2024, 1, 1, 8, tzinfo=beijing))
    assert value == datetime(2024, 1, 1, tzinfo=timezone.utc) and value.tzinfo == timezone.utc


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Stext(max_length=0), "Stext max_length must be an int"),
        (lambda: Numeric(3, 5), "Numeric needs 1 <= precision"),
        (lambda: Stext(max_length=2, default="long"), "invalid default 'long'"),
        (lambda: Integer(primary_key=True, nullable=True), "a primary key cannot be nullable"),
        (lambda: AutoInt(primary_key=False), "AutoInt is only for the primary key"),
        (lambda: Secret(default="hunter2"), "a Secret field cannot have a default"),
        (lambda: Secret(unique=True), "Secret fields cannot be keys or indexed"),
        (lambda: JitList(index=True), "JitList fields cannot be keys or indexed"),
        (lambda: Phone(rules="nine"), "Phone rules must be one of eleven, eight, tel, mobileOrTel"),
        (lambda: Stext(min_length=-1), "Stext min_length must be an int >= 0"),
        (lambda: Stext(choices="ab"), "Stext choices must be a list of strings"),
        (lambda: Stext(choices=["a"], default="b"), "invalid default 'b'"),
        (lambda: Ltext(max_length=0), "Ltext max_length must be None or an int >= 1"),
        (lambda: Datetime(on_update="now"), "on_update must be a function"),  # type: ignore[arg-type]
    ],
)
def test_impossible_fields_fail_at_declaration(make: Any, message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        make()


def test_a_model_without_a_primary_key_gets_an_auto_id() -> None:
    class Plain(Model):
        __tablename__ = "plain"
        label = Stext()

    assert list(Plain.__fields__) == ["id", "label"]
    assert Plain.__pk__ == "id" and isinstance(Plain.__fields__["id"], AutoInt)
    table = Plain.sa_table()
    assert table.c.id.primary_key and table.c.id.autoincrement is True
    assert Plain.sa_table() is table


def test_subclasses_inherit_and_extend_fields() -> None:
    class Base(Model):
        name = Stext()

    class Child(Base):
        __tablename__ = "child"
        age = Integer()

    assert list(Child.__fields__) == ["id", "name", "age"]
    assert Child.sa_table().name == "child"
    with pytest.raises(ModelDefinitionError, match="model Base needs __tablename__"):
        Base.sa_table()


def test_index_names_fit_postgresql() -> None:
    class Wide(Model):
        __tablename__ = "a_rather_long_table_name_for_testing_index_names"
        __indexes__ = (("someQuiteLongFieldName", "anotherQuiteLongFieldName"),)
        someQuiteLongFieldName = Stext()
        anotherQuiteLongFieldName = Stext()

    (index,) = Wide.sa_table().indexes
    assert index.name is not None and len(str(index.name)) <= 63


def declare(body: dict[str, Any]) -> type[Model]:
    """Create a model class from a namespace."""
    return type("Broken", (Model,), {"__tablename__": "broken", **body})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"a": Integer(primary_key=True), "b": Stext(primary_key=True)}, "declares several primary keys"),
        ({"id": Integer()}, "field 'id' is not the primary key"),
        ({"toDict": Stext()}, "'toDict' is reserved"),
        ({"get": Stext()}, "'get' is reserved"),
        ({"first__name": Stext()}, "'first__name' is not a usable field name"),
        ({"__unique__": [("nmae",)], "name": Stext()}, "__unique__ names unknown field 'nmae'; did you mean 'name'"),
        ({"__indexes__": [("x",)]}, "__indexes__ names unknown field 'x'"),
        ({"__indexes__": [["tags"]], "tags": JitList()}, "JitList field 'tags' cannot be indexed"),
        ({"__unique__": [()]}, "entries are field names or tuples of them"),
    ],
)
def test_impossible_models_fail_at_class_creation(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelDefinitionError, match=message):
        declare(body)


def test_one_field_object_cannot_have_two_names() -> None:
    shared = Stext()
    with pytest.raises(ModelDefinitionError, match=r"one Stext object is declared as both '[ab]' and '[ab]'"):
        declare({"a": shared, "b": shared})


def test_bad_table_names_are_refused(tmp_path: Any) -> None:
    engine = create_sqlite_engine(tmp_path / "db.sqlite")
    try:
        for name in ("drop table x", "jitlite_schema", "1abc"):
            model: type[Model] = type("Odd", (Model,), {"__tablename__": name, "x": Stext()})
            with pytest.raises(ModelDefinitionError, match="needs __tablename__"):
                model.bind(engine)
    finally:
        engine.dispose()


def test_server_defaults_fill_rows_written_by_other_tools(tmp_path: Any) -> None:
    class Defaults(Model):
        __tablename__ = "defaults"
        flag = Boolean(default=True)
        count = Integer(default=3)
        tags = JitList(default=["a"])
        price = Numeric(6, 2, default="1.5")

    engine = create_sqlite_engine(tmp_path / "db.sqlite")
    try:
        manager = Defaults.bind(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO defaults DEFAULT VALUES"))
        row = manager.get(None)
        assert row is not None
        assert (row.flag, row.count, row.tags, row.price) == (True, 3, ["a"], Decimal("1.50"))
    finally:
        engine.dispose()
