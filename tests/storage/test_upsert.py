"""createOrUpdateMany: idempotent bulk upserts by unique key, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from jitlite.storage import (
    FieldValueError,
    Ltext,
    Model,
    ModelManager,
    QueryError,
    Stext,
    UnknownFieldError,
)

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def rows(count: int, **overrides: Any) -> list[dict[str, Any]]:
    """Return ``count`` member rows with every kind of value."""
    return [
        {
            "corpId": "c1",
            "userId": f"u{i:05d}",
            "name": f"成员 {i}",
            "age": i % 90,
            "salary": f"{i}.5",
            "active": i % 3 != 0,
            "joinedAt": START + timedelta(minutes=i),
            "departments": [i % 7, i % 11],
            "extra": {"position": "dev", "i": i},
            **overrides,
        }
        for i in range(count)
    ]


def snapshot(manager: ModelManager) -> dict[str, dict[str, Any]]:
    """Return every row, keyed by userId."""
    found = manager.query(size=100_000)["rowDatas"]
    return {row.userId: row.toDict() for row in found}


def test_same_rows_twice_leave_the_table_unchanged(members: ModelManager) -> None:
    data = rows(300)
    assert members.createOrUpdateMany(data) == 300
    before = snapshot(members)
    assert members.createOrUpdateMany(data) == 0
    assert members.createOrUpdateMany(reversed(data), batchSize=7) == 0
    assert snapshot(members) == before
    assert before["u00007"]["departments"] == [0, 7]
    assert before["u00007"]["joinedAt"] == START + timedelta(minutes=7)


def test_one_percent_changed_rewrites_only_those_rows(members: ModelManager, engine: Engine) -> None:
    data = rows(1000)
    members.createOrUpdateMany(data)
    before = snapshot(members)
    versions = row_versions(engine)
    changed = {f"u{i:05d}" for i in range(0, 1000, 100)}
    resync = [{**row, "departments": [*row["departments"], 99]} if row["userId"] in changed else row for row in data]
    assert members.createOrUpdateMany(resync) == len(changed)
    after = snapshot(members)
    differing = {user for user in before if before[user] != after[user]}
    assert differing == changed
    assert after["u00100"]["departments"] == [2, 1, 99]
    if versions is not None:  # PostgreSQL: untouched rows keep their row version (xmin)
        now = row_versions(engine) or {}
        moved = {user for user, version in now.items() if versions[user] != version}
        assert moved == changed


def row_versions(engine: Engine) -> dict[str, str] | None:
    """Return each member's PostgreSQL row version, or None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return {user: str(xmin) for user, xmin in conn.execute(sa.text('SELECT "userId", xmin FROM members'))}


def test_equal_values_in_another_form_are_not_a_change(members: ModelManager) -> None:
    members.createOrUpdateMany(rows(5))
    beijing = timezone(timedelta(hours=8))
    same = [{**row, "salary": float(row["salary"]), "joinedAt": row["joinedAt"].astimezone(beijing)} for row in rows(5)]
    assert members.createOrUpdateMany(same) == 0


def test_batches_duplicates_and_generators(members: ModelManager) -> None:
    assert members.createOrUpdateMany((row for row in rows(2500)), batchSize=1000) == 2500
    assert members.query()["totalCount"] == 2500
    twice = [
        {"corpId": "c1", "userId": "dup", "name": "first"},
        {"corpId": "c1", "userId": "dup", "name": "last"},
    ]
    assert members.createOrUpdateMany(twice) == 1  # the last row for a key wins
    found = members.get("Q(userId='dup')")
    assert found is not None and found.name == "last"


def test_only_supplied_fields_are_updated(members: ModelManager) -> None:
    members.createOrUpdateMany([{"corpId": "c1", "userId": "a", "name": "Ann", "age": 1, "active": False}])
    # Rows with different sets of keys in one call; a missing field is left as it is.
    changed = members.createOrUpdateMany(
        [
            {"corpId": "c1", "userId": "a", "age": 2},
            {"corpId": "c1", "userId": "b", "name": "Bob"},
        ]
    )
    assert changed == 2
    a, b = members.get("Q(userId='a')"), members.get("Q(userId='b')")
    assert a is not None and (a.name, a.age, a.active) == ("Ann", 2, False)
    assert b is not None and (b.name, b.active, b.departments) == ("Bob", True, [])  # defaults on insert


def test_unique_fields_must_be_a_unique_key(members: ModelManager) -> None:
    data = rows(3)
    assert members.createOrUpdateMany(data, uniqueFields=["userId", "corpId"]) == 3
    with pytest.raises(QueryError, match=r"uniqueFields \['userId'\] is not a unique key of the model"):
        members.createOrUpdateMany(data, uniqueFields=["userId"])
    with pytest.raises(UnknownFieldError, match="'usrId' \\(in uniqueFields\\); did you mean 'userId'"):
        members.createOrUpdateMany(data, uniqueFields=["usrId", "corpId"])


@pytest.mark.parametrize(
    ("bad_rows", "error", "message"),
    [
        ([{"userId": "x"}], FieldValueError, r"Member \(rowDataList\[0\]\): the unique key field 'corpId' is missing"),
        ([{"corpId": "c", "userId": None}], FieldValueError, r"rowDataList\[0\]\): cannot be None"),
        ([{"corpId": "c", "userId": "x", "nmae": 1}], UnknownFieldError, r"'nmae' \(in rowDataList\[0\]\)"),
        ([{"corpId": "c", "userId": "x", "id": 3}], FieldValueError, "the database assigns it"),
        (["not a row"], FieldValueError, r"rowDataList\[0\] is a str, not a dict"),
        ({"corpId": "c", "userId": "x"}, QueryError, "rowDataList is a list of dicts, not one dict"),
    ],
)
def test_bad_rows_are_reported_by_position(
    members: ModelManager, bad_rows: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        members.createOrUpdateMany(bad_rows)


def test_a_bad_row_late_in_the_input_writes_nothing(members: ModelManager) -> None:
    data = rows(1600)
    data[1500] = {**data[1500], "age": "old"}
    with pytest.raises(FieldValueError, match=r"Member.age \(rowDataList\[1500\]\): expected an integer, got str"):
        members.createOrUpdateMany(data, batchSize=500)
    assert members.query()["totalCount"] == 0  # one transaction: the first batches rolled back


def test_batch_size_must_be_positive(members: ModelManager) -> None:
    with pytest.raises(QueryError, match="batchSize must be a positive integer"):
        members.createOrUpdateMany(rows(1), batchSize=0)


class Tag(Model):
    """A model keyed by a single unique field."""

    __tablename__ = "tags"
    code = Stext(max_length=32, unique=True, nullable=False)
    label = Ltext()


class Badge(Model):
    """A model whose unique key is nullable."""

    __tablename__ = "badges"
    code = Stext(max_length=32, unique=True)


def test_a_null_unique_key_is_refused(engine: Engine) -> None:
    # NULL never conflicts, so it would insert a duplicate on every sync.
    with pytest.raises(
        FieldValueError, match=r"Badge.code \(rowDataList\[1\]\): cannot be None: it is part of the unique"
    ):
        Badge.bind(engine).createOrUpdateMany([{"code": "a"}, {"code": None}])


class Note(Model):
    """A model without any unique key."""

    __tablename__ = "notes"
    body = Ltext()


class Word(Model):
    """A model whose primary key is the natural key."""

    __tablename__ = "words"
    word = Stext(max_length=32, primary_key=True)
    meaning = Ltext()


def test_default_keys_and_models_without_one(engine: Engine) -> None:
    tags = Tag.bind(engine)
    assert tags.createOrUpdateMany([{"code": "a", "label": "A"}, {"code": "b"}]) == 2
    assert tags.createOrUpdateMany([{"code": "a", "label": "A2"}]) == 1
    assert tags.createOrUpdateMany([{"code": "a"}]) == 0  # nothing to update: the row exists
    found = tags.get("Q(code='a')")
    assert found is not None and found.label == "A2"
    words = Word.bind(engine)
    assert words.createOrUpdateMany([{"word": "hi", "meaning": "hello"}]) == 1
    assert words.createOrUpdateMany([{"word": "hi", "meaning": "greeting"}]) == 1
    assert words.query()["totalCount"] == 1



def test_a_model_without_a_unique_key_matches_rows_on_their_id(engine: Engine) -> None:
    # JitAi's createOrUpdateMany: rows with an id update that row, rows without one are inserted.
    notes = Note.bind(engine)
    assert notes.createOrUpdateMany([{"body": "a"}, {"body": "b"}]) == 2
    first, second = notes.query(orderList=[["id", 1]])["rowDatas"]
    changes = [{"id": first.id, "body": "a2"}, {"body": "c"}, {"id": second.id, "body": "b"}]
    assert notes.createOrUpdateMany(changes) == 2
    assert [(r.id, r.body) for r in notes.query(orderList=[["id", 1]])["rowDatas"]] == [
        (first.id, "a2"), (second.id, "b"), (second.id + 1, "c")]
    # A row with an id the table does not hold is inserted with it; later ids continue after it.
    assert notes.createOrUpdateMany([{"id": 100, "body": "imported"}]) == 1
    assert notes.create({"body": "next"}).id == 101
    with pytest.raises(QueryError, match="uniqueFields"):
        notes.createOrUpdateMany([{"body": "x"}], uniqueFields=["body"])
