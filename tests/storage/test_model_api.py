"""JitAi's model API on SQLite and PostgreSQL: get, query, create, update*, delete*, rows and errors."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from jitlite.runtime import clock
from jitlite.storage import (
    AmbiguousFilterError,
    ConstraintError,
    Date,
    Datetime,
    FieldValueError,
    FilterError,
    Model,
    ModelManager,
    Q,
    QueryError,
    Row,
    Stext,
    UnknownFieldError,
    create_sqlite_engine,
    utc_now,
)

Member = Callable[..., dict[str, Any]]
UTC = timezone.utc


def test_create_returns_the_stored_row(members: ModelManager, make_member: Member) -> None:
    row = members.create(make_member("u1", name="Ann", age=30, salary="12.345", extra={"城市": "深圳"}))
    assert isinstance(row, Row)
    assert isinstance(row.id, int)
    assert row.userId == "u1" and row["name"] == "Ann"
    assert row.salary == Decimal("12.35")  # quantized to the field's scale, rounding half up
    assert row.active is True  # the field's default
    assert row.departments == []  # a callable default, called per row
    assert row.extra == {"城市": "深圳"}
    assert row.joinedAt is None
    data = row.toDict()
    assert data["userId"] == "u1" and set(data) == set(members.fields)
    data["userId"] = "changed"
    assert row.userId == "u1"  # toDict returns a copy
    assert dict(row) == row.toDict()
    assert members.get("Q(userId='u1')") == row


def test_rows_are_read_only_and_name_unknown_fields(members: ModelManager, make_member: Member) -> None:
    row = members.create(make_member("u1"))
    with pytest.raises(AttributeError, match="rows are read-only"):
        row.name = "x"
    with pytest.raises(AttributeError, match="this Member row has no field 'nmae'; did you mean 'name'"):
        _ = row.nmae
    with pytest.raises(KeyError, match="no field 'userid'; did you mean 'userId'"):
        _ = row["userid"]
    assert repr(row).startswith("<Member row {'id': ")


def test_rows_read_their_fields_as_attributes_whatever_the_field_list(members: ModelManager,
                                                                      make_member: Member) -> None:
    members.create(make_member("u1", name="Ann", age=30))
    [row] = members.query(fieldList=["id", "name"])["rowDatas"]
    assert (row.name, row["name"], type(row).__name__, isinstance(row, Row)) == ("Ann", "Ann", "Row", True)
    with pytest.raises(AttributeError, match="this Member row has no field 'age'"):
        _ = row.age  # not read: not an attribute either
    assert pickle.loads(pickle.dumps(row)) == row
    assert dict(row.items()) == {"id": row.id, "name": "Ann"}  # Row's own methods are untouched


def test_datetimes_come_back_aware_in_utc(members: ModelManager, make_member: Member) -> None:
    beijing = timezone(timedelta(hours=8))
    at = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=beijing)
    row = members.create(make_member("u1", joinedAt=at))
    stored = members.get(Q(id=row.id))
    assert stored is not None
    assert stored.joinedAt == at
    assert stored.joinedAt.tzinfo == UTC
    assert stored.joinedAt.hour == 1
    with pytest.raises(FieldValueError, match=r"Member\.joinedAt .*needs a timezone-aware datetime"):
        members.create(make_member("u2", joinedAt=datetime(2024, 5, 1)))


def test_get_follows_order_list(members: ModelManager, make_member: Member) -> None:
    for user, age in (("a", 20), ("b", 40), ("c", 30)):
        members.create(make_member(user, age=age))
    oldest = members.get("Q(age__gt=0)", orderList=[["age", -1]])
    youngest = members.get(Q(age__gt=0), orderList=[["age", 1]])
    assert oldest is not None and oldest.userId == "b"
    assert youngest is not None and youngest.userId == "a"
    assert members.get("Q(userId='nobody')") is None


def test_query_pages_counts_and_field_list(members: ModelManager, make_member: Member) -> None:
    for i in range(25):
        members.create(make_member(f"u{i:02d}", age=i % 5))
    first = members.query("Q(age__gte=1)", fieldList=["userId", "age"], orderList=[["age", 1]], page=1, size=7)
    assert first["totalCount"] == 20
    assert [r.toDict() for r in first["rowDatas"]][:2] == [{"userId": "u01", "age": 1}, {"userId": "u06", "age": 1}]
    seen = []
    for page in range(1, 4):
        result = members.query("Q(age__gte=1)", orderList=[["age", 1]], page=page, size=7)
        seen += [r.userId for r in result["rowDatas"]]
    assert len(seen) == 20 == len(set(seen))  # ties broken by id: pages never overlap
    assert members.query(page=5, size=7)["rowDatas"] == []
    assert [r.userId for r in members.query(size=3)["rowDatas"]] == ["u00", "u01", "u02"]  # size alone: page 1


def test_query_without_a_page_returns_every_row(members: ModelManager, make_member: Member) -> None:
    # Regression: a query without page and size used to return the first 20 rows only, silently.
    members.createOrUpdateMany([make_member(f"u{i:02d}", age=i % 3) for i in range(45)])
    everything = members.query()
    assert everything["totalCount"] == 45 and len(everything["rowDatas"]) == 45
    matching = members.query("Q(age=1)", orderList=[["userId", -1]])
    assert matching["totalCount"] == 15 == len(matching["rowDatas"])
    assert matching["rowDatas"][0].userId == "u43"
    assert len(members.query(None, None, None, 2, 20)["rowDatas"]) == 20  # JitAi's positional form


def test_null_sorts_lowest_on_every_engine(members: ModelManager, make_member: Member) -> None:
    for user, name in (("a", "m"), ("b", None), ("c", "z")):
        members.create(make_member(user, name=name))
    ascending = members.query(orderList=[["name", 1]])["rowDatas"]
    descending = members.query(orderList=[["name", -1]])["rowDatas"]
    assert [r.userId for r in ascending] == ["b", "a", "c"]
    assert [r.userId for r in descending] == ["c", "a", "b"]


def test_updates_and_deletes(members: ModelManager, make_member: Member) -> None:
    rows = [members.create(make_member(f"u{i}", age=i)) for i in range(6)]
    updated = members.updateByPK(rows[0].id, {"name": "Zed", "age": 99})
    assert updated is not None and updated.name == "Zed" and updated.age == 99 and updated.userId == "u0"
    assert members.updateByPK(10**9, {"name": "ghost"}) is None
    unchanged = members.updateByPK(rows[1].id, {})
    assert unchanged == rows[1]
    assert members.updateByFilter("Q(age__lt=3)", {"active": False}) == 2  # u1, u2
    assert members.query(Q(active=False))["totalCount"] == 2
    assert members.deleteByPK(rows[5].id) == 1
    assert members.deleteByPK(rows[5].id) == 0
    assert members.deleteByFilter("Q(active=False) | Q(age=99)") == 3
    assert sorted(r.userId for r in members.query()["rowDatas"]) == ["u3", "u4"]
    assert members.deleteByFilter(Q()) == 2


def test_jitai_signatures_take_lists_of_primary_keys(members: ModelManager, make_member: Member) -> None:
    ids = [members.create(make_member(f"u{i}", age=i)).id for i in range(5)]
    updated = members.updateByPK([ids[3], ids[1], 10**9], {"name": "batch"}, 0)
    assert isinstance(updated, list) and [r.id for r in updated] == [ids[1], ids[3]]
    assert all(r.name == "batch" for r in updated)
    same = members.updateByPK((ids[0],), {})
    assert isinstance(same, list) and [r.userId for r in same] == ["u0"]
    assert members.deleteByPK([ids[0], ids[1], ids[1], 10**9], triggerEvent=1) == 2
    assert members.deleteByPK([]) == 0
    assert sorted(r.userId for r in members.query()["rowDatas"]) == ["u2", "u3", "u4"]
    created = members.create(make_member("new"), triggerEvent=0)
    assert created.userId == "new"
    for call in (lambda: members.create(make_member("x"), triggerEvent=2),
                 lambda: members.deleteByPK([ids[2]], "yes"),  # type: ignore[arg-type]
                 lambda: members.createOrUpdateMany([make_member("y")], triggerEvent=None)):  # type: ignore[arg-type]
        with pytest.raises(QueryError, match="triggerEvent is 1 or 0"):
            call()


def test_update_or_add_in_jitai_form(members: ModelManager, make_member: Member) -> None:
    # updateOrAdd(filter, orderList, updateData, addData): addData is what gets inserted.
    added = members.updateOrAdd("Q(Q('userId', '=', 'w1'))", [], {"name": "updated"}, {"corpId": "c1", "name": "added"})
    assert (added.userId, added.corpId, added.name) == ("w1", "c1", "added")
    again = members.updateOrAdd("Q(Q('userId', '=', 'w1'))", [], {"name": "updated"}, {"corpId": "c1", "name": "added"})
    assert again.id == added.id and again.name == "updated"
    # With an orderList, the first of several matching rows is updated.
    members.create(make_member("w2", age=5))
    members.create(make_member("w3", age=9))
    oldest = members.updateOrAdd(Q(age__gte=1), [["age", -1]], {"name": "oldest"}, None)
    assert oldest.userId == "w3" and oldest.name == "oldest"
    with pytest.raises(AmbiguousFilterError, match="or pass an orderList"):
        members.updateOrAdd(Q(age__gte=1), None, {"name": "x"})
    with pytest.raises(QueryError, match="the second argument is orderList"):
        members.updateOrAdd(Q(userId="w1"), {"name": "x"}, {"name": "y"})
    with pytest.raises(UnknownFieldError, match=r"'nmae' \(in addData\)"):
        members.updateOrAdd(Q(userId="w9"), [], {}, {"corpId": "c1", "nmae": "x"})


class Visit(Model):
    """A model with a date, and a time refreshed on every update."""

    __tablename__ = "visits"
    __unique__ = ("code",)
    code = Stext(max_length=16)
    day = Date()
    note = Stext(nullable=True)
    createdAt = Datetime(default=utc_now)
    updatedAt = Datetime(default=utc_now, on_update=utc_now)


def test_dates_and_update_stamps(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    visits = Visit.bind(engine)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    monkeypatch.setattr(clock, "utc_now", lambda: start)
    first = visits.create({"code": "a", "day": "2024-02-29"})
    visits.createOrUpdateMany([{"code": "b", "day": date(2023, 12, 31)}, {"code": "c", "day": "2024-12-01"}])
    assert first.day == date(2024, 2, 29) and first.updatedAt == start
    assert {r.code for r in visits.query("Q(day__year=2024)")["rowDatas"]} == {"a", "c"}
    assert {r.code for r in visits.query(Q("day", "month", 12))["rowDatas"]} == {"b", "c"}
    assert {r.code for r in visits.query("Q(day__gte='2024-01-01') & Q(day__day=29)")["rowDatas"]} == {"a"}
    later = start + timedelta(hours=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    updated = visits.updateByPK(first.id, {"note": "seen"})
    assert updated is not None and updated.updatedAt == later and updated.createdAt == start
    visits.updateByFilter(Q(code="b"), {"note": "x"})
    visits.updateOrAdd(Q(code="c"), {"note": "y"})
    assert all(r.updatedAt == later for r in visits.query()["rowDatas"])
    # An upsert that changes nothing leaves the stamp alone; one that changes a value refreshes it.
    last = later + timedelta(hours=1)
    monkeypatch.setattr(clock, "utc_now", lambda: last)
    assert visits.createOrUpdateMany([{"code": "a", "note": "seen"}, {"code": "b", "note": "z"}]) == 1
    stamps = {r.code: r.updatedAt for r in visits.query()["rowDatas"]}
    assert stamps == {"a": later, "b": last, "c": later}


def test_update_and_delete_by_filter_need_a_filter(members: ModelManager) -> None:
    with pytest.raises(FilterError, match=r"Member\.deleteByFilter needs a filter; pass Q"):
        members.deleteByFilter(None)
    with pytest.raises(FilterError, match=r"Member\.updateByFilter needs a filter"):
        members.updateByFilter(None, {"name": "x"})
    with pytest.raises(QueryError, match="updateData is empty"):
        members.updateByFilter(Q(), {})


def test_update_or_add_inserts_then_updates(members: ModelManager) -> None:
    created = members.updateOrAdd("Q(corpId='c9', userId='w1')", {"name": "first"})
    assert (created.corpId, created.userId, created.name) == ("c9", "w1", "first")
    updated = members.updateOrAdd(Q(corpId="c9", userId="w1"), {"name": "second"})
    assert updated.id == created.id and updated.name == "second"
    assert members.query()["totalCount"] == 1
    members.create({"corpId": "c9", "userId": "w2"})
    with pytest.raises(AmbiguousFilterError, match="matches several rows"):
        members.updateOrAdd("Q(corpId='c9')", {"name": "x"})


def test_unknown_fields_are_named_with_a_suggestion(members: ModelManager, make_member: Member) -> None:
    row = members.create(make_member("u1"))
    cases: list[tuple[Callable[[], Any], str]] = [
        (
            lambda: members.create({"corpId": "c", "userId": "x", "nmae": "a"}),
            "'nmae' (in rowData); did you mean 'name'?",
        ),
        (lambda: members.updateByPK(row.id, {"Age": 1}), "'Age' (in updateData); did you mean 'age'?"),
        (lambda: members.updateByFilter(Q(), {"activ": True}), "'activ' (in updateData); did you mean 'active'?"),
        (lambda: members.updateOrAdd(Q(userId="u1"), {"salery": 1}), "'salery' (in updateData)"),
        (lambda: members.query(fieldList=["userId", "agee"]), "'agee' (in fieldList); did you mean 'age'?"),
        (lambda: members.query(orderList=[["joinedat", 1]]), "'joinedat' (in orderList); did you mean 'joinedAt'?"),
        (lambda: members.get(Q(), orderList=[["nam", -1]]), "'nam' (in orderList); did you mean 'name'?"),
    ]
    for call, fragment in cases:
        with pytest.raises(UnknownFieldError) as caught:
            call()
        assert str(caught.value).startswith("model Member has no field ")
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"userId": "u1"}, "Member.corpId (rowData): a value is required"),
        ({"corpId": None, "userId": "u1"}, "Member.corpId (rowData): cannot be None"),
        (
            {"corpId": "c", "userId": "u" * 65},
            "Member.userId (rowData): text is 65 characters long; the field allows 64",
        ),
        ({"corpId": "c", "userId": "u", "age": "3"}, "Member.age (rowData): expected an integer, got str"),
        ({"corpId": "c", "userId": "u", "age": 2**63}, "integer does not fit in 64 bits"),
        ({"corpId": "c", "userId": "u", "salary": "1e10"}, "does not fit Numeric(10, 2)"),
        ({"corpId": "c", "userId": "u", "active": "yes"}, "Member.active (rowData): expected True or False"),
        ({"corpId": "c", "userId": "u", "departments": "1,2"}, "Member.departments (rowData): expected a list"),
        ({"corpId": "c", "userId": "u", "extra": {"a": {1, 2}}}, "not JSON-serialisable"),
        ({"corpId": "c", "userId": "u", "name": "a\x00b"}, "NUL character"),
        ({"corpId": "c", "userId": "u", "id": 5}, "Member.id (rowData): the database assigns it (AutoInt)"),
    ],
)
def test_bad_values_are_rejected_before_the_database(members: ModelManager, row: dict[str, Any], message: str) -> None:
    with pytest.raises(FieldValueError) as caught:
        members.create(row)
    assert message in str(caught.value)
    assert members.query()["totalCount"] == 0


def test_primary_key_cannot_change_and_must_be_valid(members: ModelManager, make_member: Member) -> None:
    row = members.create(make_member("u1"))
    with pytest.raises(FieldValueError, match="the primary key cannot be changed"):
        members.updateByPK(row.id, {"id": 7})
    with pytest.raises(FieldValueError, match=r"Member.id \(primary key\): expected an integer, got str"):
        members.deleteByPK("1")


def test_duplicate_unique_key_is_a_constraint_error(members: ModelManager, make_member: Member) -> None:
    members.create(make_member("u1"))
    with pytest.raises(ConstraintError, match="Member: the database refused the write"):
        members.create(make_member("u1"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page": 0}, "page must be a positive integer"),
        ({"page": 2}, "page 2 needs a size"),
        ({"size": -1}, "size must be a positive integer"),
        ({"size": True}, "size must be a positive integer"),
        ({"orderList": [["age", 2]]}, "direction for 'age' must be 1 or -1"),
        ({"orderList": ["age"]}, r"orderList entries are \[field, 1 \| -1\]"),
        ({"orderList": [["departments", 1]]}, "cannot order by JitList field 'departments'"),
        ({"fieldList": "userId"}, "fieldList is a list of field names"),
    ],
)
def test_malformed_query_arguments(members: ModelManager, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        members.query(**kwargs)


def test_one_model_bound_to_two_engines(
    database: Any, member_model: type[Model], make_member: Member, tmp_path: Any
) -> None:
    # On the PostgreSQL run this is PostgreSQL and SQLite side by side in one process.
    first = member_model.bind(database.open())
    other_engine = create_sqlite_engine(tmp_path / "other.db")
    try:
        second = member_model.bind(other_engine)
        first.create(make_member("only-first", age=1))
        second.create(make_member("only-second", age=2))
        second.createOrUpdateMany([make_member("bulk", age=3)])
        assert [r.userId for r in first.query()["rowDatas"]] == ["only-first"]
        assert sorted(r.userId for r in second.query()["rowDatas"]) == ["bulk", "only-second"]
    finally:
        other_engine.dispose()


def test_concurrent_writers_from_threads(engine: Engine, member_model: type[Model]) -> None:
    members = member_model.bind(engine)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(15):
                members.create({"corpId": "c", "userId": f"w{worker}-{i}"})
                members.updateOrAdd(Q(corpId="c", userId=f"shared-{i}"), {"age": worker})
                members.createOrUpdateMany([{"corpId": "c", "userId": f"bulk-{i}", "age": worker}])
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert members.query("Q(userId__startswith='w')")["totalCount"] == 90
    assert members.query("Q(userId__startswith='shared-')")["totalCount"] == 15
    assert members.query("Q(userId__startswith='bulk-')")["totalCount"] == 15
