"""ensure_schema: creating tables, additive migrations, refusing unsafe ones, and surviving restarts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from jitlite.storage import (
    Boolean,
    Datetime,
    Integer,
    JitList,
    Model,
    SchemaError,
    Stext,
    ensure_schema,
)
from jitlite.storage.engine import SCHEMA_TABLE


class PersonV1(Model):
    __tablename__ = "people"
    name = Stext(max_length=16)
    age = Integer()


class PersonV2(Model):
    """PersonV1 plus columns of every addable kind and two new indexes."""

    __tablename__ = "people"
    __indexes__ = ("age",)
    __unique__ = (("name", "age"),)
    name = Stext(max_length=64)
    age = Integer()
    nickname = Stext()  # nullable: existing rows get NULL
    level = Integer(nullable=False, default=1)  # NOT NULL with a default: existing rows get 1
    flag = Boolean(default=False)
    motto = Stext(default="100%: done")  # quotes, % and : must survive the DDL
    tags = JitList(default=list)  # a callable default has no SQL form: the column is added nullable
    seenAt = Datetime()


class PersonRetyped(Model):
    __tablename__ = "people"
    name = Stext(max_length=16)
    age = Stext()  # was Integer
    extra = Stext()  # would be addable, but the whole migration is refused


class PersonRequired(Model):
    __tablename__ = "people"
    name = Stext(max_length=16)
    age = Integer()
    code = Stext(nullable=False)  # NOT NULL without a default cannot be added to existing rows


class PersonUniqueName(Model):
    __tablename__ = "people"
    name = Stext(max_length=16, unique=True)
    age = Integer()


class PersonOtherKey(Model):
    __tablename__ = "people"
    name = Stext(max_length=16, primary_key=True)
    age = Integer()


def schema_record(engine: Engine, table: str) -> Any:
    """Return the jitlite_schema row of a table."""
    with engine.connect() as conn:
        return conn.execute(sa.select(SCHEMA_TABLE).where(SCHEMA_TABLE.c.table_name == table)).one()


def columns(engine: Engine, table: str) -> set[str]:
    """Return the table's column names as the database has them."""
    with engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_create_then_nothing_to_do(engine: Engine) -> None:
    assert ensure_schema(engine, [PersonV1]) == ["created table people"]
    assert ensure_schema(engine, [PersonV1]) == []
    record = schema_record(engine, "people")
    assert (record.model_name, record.version, record.schema_hash) == ("PersonV1", 1, PersonV1.schema_hash())
    assert columns(engine, "people") == {"id", "name", "age"}


def test_migration_adds_columns_and_indexes_and_keeps_rows(engine: Engine) -> None:
    v1 = PersonV1.bind(engine)
    originals = [v1.create({"name": f"p{i}", "age": i}) for i in range(3)]
    actions = ensure_schema(engine, [PersonV2])
    assert "added column people.nickname" in actions
    assert "added column people.level" in actions
    assert any(a.startswith("created unique index ux_people_name_age") for a in actions)
    assert any(a.startswith("created index ix_people_age") for a in actions)
    v2 = PersonV2.bind(engine)  # already migrated: nothing left to do
    for original in originals:
        row = v2.get({"id": original.id})
        assert row is not None
        assert (row.name, row.age) == (original.name, original.age)
        assert (row.nickname, row.level, row.flag, row.motto, row.tags) == (None, 1, False, "100%: done", None)
    fresh = v2.create({"name": "new" * 10, "age": 7, "seenAt": datetime(2024, 1, 1, tzinfo=timezone.utc)})
    assert (fresh.level, fresh.tags, fresh.motto) == (1, [], "100%: done")
    assert len(fresh.name) == 30  # the VARCHAR(16) was widened where the database enforces it
    record = schema_record(engine, "people")
    assert (record.model_name, record.version, record.schema_hash) == ("PersonV2", 2, PersonV2.schema_hash())
    assert ensure_schema(engine, [PersonV2]) == []


def test_incompatible_type_change_is_refused_and_nothing_changes(engine: Engine) -> None:
    v1 = PersonV1.bind(engine)
    v1.create({"name": "kept", "age": 41})
    with pytest.raises(SchemaError) as caught:
        ensure_schema(engine, [PersonRetyped])
    message = str(caught.value)
    assert "nothing was changed" in message
    assert "people.age: the database column is BIGINT (integer) but model PersonRetyped declares Stext" in message
    assert "jitlite never converts or drops data" in message
    assert columns(engine, "people") == {"id", "name", "age"}  # `extra` was not added either
    assert schema_record(engine, "people").model_name == "PersonV1"
    row = v1.get({"name": "kept"})
    assert row is not None and row.age == 41


def test_required_column_without_default_is_refused(engine: Engine) -> None:
    PersonV1.bind(engine)
    with pytest.raises(SchemaError, match=r"people\.code: cannot add a NOT NULL column without a constant default"):
        PersonRequired.bind(engine)


def test_unique_index_over_duplicates_is_refused(engine: Engine) -> None:
    v1 = PersonV1.bind(engine)
    v1.create({"name": "twin", "age": 1})
    v1.create({"name": "twin", "age": 2})
    with pytest.raises(SchemaError, match=r"cannot add the unique index on \(name\): existing rows hold duplicate"):
        PersonUniqueName.bind(engine)
    assert v1.query()["totalCount"] == 2


def test_primary_key_change_is_refused(engine: Engine) -> None:
    PersonV1.bind(engine)
    with pytest.raises(SchemaError, match=r"the primary key is \['id'\] in the database but \['name'\]"):
        PersonOtherKey.bind(engine)


def test_two_models_on_one_table_in_one_call(engine: Engine) -> None:
    with pytest.raises(SchemaError, match="models PersonV1 and PersonV2 both use table 'people'"):
        ensure_schema(engine, [PersonV1, PersonV2])


def test_restart_keeps_data(database: Any, member_model: type[Model]) -> None:
    engine = database.open()
    members = member_model.bind(engine)
    written = members.createOrUpdateMany(
        [{"corpId": "c1", "userId": f"u{i}", "age": i, "departments": [i]} for i in range(50)]
    )
    assert written == 50
    before = [row.toDict() for row in members.query(size=100)["rowDatas"]]
    engine.dispose()

    reopened = member_model.bind(database.open())
    after = [row.toDict() for row in reopened.query(size=100)["rowDatas"]]
    assert after == before
    assert reopened.createOrUpdateMany([{"corpId": "c1", "userId": "u1", "age": 1, "departments": [1]}]) == 0
