"""Every Q form and lookup, run on SQLite and PostgreSQL, must select the same rows."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from jitlite.storage import FilterError, Model, ModelManager, Q, qfilter
from jitlite.storage.qfilter import MAX_DEPTH, MAX_TERMS, MAX_VALUES

UTC = timezone.utc


def member(user_id: str, **values: Any) -> dict[str, Any]:
    """Return a member row for corp c1."""
    return {"corpId": "c1", "userId": user_id, **values}


@pytest.fixture(scope="module")
def seeded(module_database: Any, member_model: type[Model]) -> ModelManager:
    """Return Member on each engine holding six rows that exercise NULLs, case, % and _ (read-only)."""
    members = member_model.bind(module_database.open())
    rows = [
        member(
            "u1",
            name="Alice",
            age=30,
            salary="100.50",
            active=True,
            joinedAt=datetime(2024, 1, 1, tzinfo=UTC),
            departments=[1, 2],
            extra={"k": "v"},
        ),
        member(
            "u2",
            name="bob",
            age=17,
            salary=5,
            active=False,
            joinedAt="2024-06-01T08:00:00Z",
            departments=[2],
        ),
        member("u3", name="Carol_1", age=None, salary=None, departments=[]),
        member(
            "u4",
            name=None,
            age=45,
            salary=Decimal("99999999.99"),
            # 2023-12-31 23:59:59 in Beijing is 15:59:59 UTC.
            joinedAt=datetime.fromisoformat("2023-12-31T23:59:59+08:00"),
            departments=[3],
        ),
        member("u5", name="100% sure", age=30, salary=0.1, departments=[12]),
        member("u6", name="CarolX1", age=31, departments=[4]),
    ]
    for row in rows:
        members.create(row)
    return members


def user_ids(manager: ModelManager, filter: Any) -> set[str]:
    """Return the userIds a filter selects."""
    result = manager.query(filter, fieldList=["userId"], size=100)
    assert result["totalCount"] == len(result["rowDatas"])
    return {row.userId for row in result["rowDatas"]}


ALL = {"u1", "u2", "u3", "u4", "u5", "u6"}

CASES: list[tuple[str, set[str]]] = [
    ("Q(userId='u1')", {"u1"}),
    ("Q(userId__eq='u1')", {"u1"}),
    ("Q(name=None)", {"u4"}),
    ("Q(name__ne='Alice')", ALL - {"u1"}),  # NULL names count as "not Alice"
    ("Q(name__ne=None)", ALL - {"u4"}),
    ("Q(age__gt=30)", {"u4", "u6"}),
    ("Q(age__gte=30)", {"u1", "u4", "u5", "u6"}),
    ("Q(age__lt=30)", {"u2"}),
    ("Q(age__lte=30)", {"u1", "u2", "u5"}),
    ("Q(age__gt=30.5)", {"u4", "u6"}),
    ("Q(age__in=[17, 45])", {"u2", "u4"}),
    ("Q(age__in=[17, None])", {"u2", "u3"}),
    ("Q(age__in=[])", set()),
    ("Q(age__nin=[30])", {"u2", "u3", "u4", "u6"}),
    ("Q(age__nin=[])", ALL),
    ("Q(age__isnull=True)", {"u3"}),
    ("Q(age__isnull=False)", ALL - {"u3"}),
    ("Q(age__range=[17, 30])", {"u1", "u2", "u5"}),
    ("Q(name__like='A%')", {"u1"}),
    ("Q(name__like='a%')", set()),  # case-sensitive on both engines
    ("Q(name__like='%o%')", {"u2", "u3", "u6"}),
    ("Q(name__like='Carol_1')", {"u3", "u6"}),  # like keeps _ as a wildcard
    ("Q(name__startswith='Carol_')", {"u3"}),  # startswith escapes it
    ("Q(name__startswith='Carol%')", set()),
    ("Q(name__startswith='100%')", {"u5"}),
    ("Q(name__startswith='alice')", set()),
    ("Q(name__endswith='_1')", {"u3"}),
    ("Q(name__endswith='% sure')", {"u5"}),
    ("Q(active=False)", {"u2"}),
    ("Q(active=True)", ALL - {"u2"}),
    ("Q(active__ne=True)", {"u2"}),
    ("Q(active__in=[False])", {"u2"}),
    ("Q(joinedAt__gte='2024-01-01T00:00:00Z')", {"u1", "u2"}),
    ("Q(joinedAt='2023-12-31T15:59:59+00:00')", {"u4"}),
    ("Q(joinedAt__range=['2024-01-01T00:00:00+00:00', '2024-06-01T16:00:00+08:00'])", {"u1", "u2"}),
    ("Q(joinedAt__isnull=True)", {"u3", "u5", "u6"}),
    ("Q(salary__gt='100.49')", {"u1", "u4"}),
    ("Q(salary=5)", {"u2"}),
    ("Q(salary__lte=5.0)", {"u2", "u5"}),
    ("Q(salary=0.1)", {"u5"}),
    ("Q(departments__like='%2%')", {"u1", "u2", "u5"}),
    ("Q(departments__like='[2]')", {"u2"}),
    ("Q(extra__isnull=False)", {"u1"}),
    ("Q('age', '>', 18)", {"u1", "u4", "u5", "u6"}),
    ("Q('age', '=', 30)", {"u1", "u5"}),
    ("Q('age', '==', 30)", {"u1", "u5"}),
    ("Q('age', '!=', 30)", {"u2", "u3", "u4", "u6"}),
    ("Q('age', '>=', 45)", {"u4"}),
    ("Q('age', '<', 18)", {"u2"}),
    ("Q('age', '<=', 17)", {"u2"}),
    ("Q('age', 'in', [30, 31])", {"u1", "u5", "u6"}),
    ("Q('age', 'nin', [30, 31])", {"u2", "u3", "u4"}),
    ("Q('name', 'like', '%l%')", {"u1", "u3", "u6"}),
    ("Q('name', 'startswith', 'Car')", {"u3", "u6"}),
    ("Q('name', 'endswith', 'b')", {"u2"}),
    ("Q('name', 'isnull', True)", {"u4"}),
    ("Q('age', 'range', [31, 45])", {"u4", "u6"}),
    ("Q(age=30, name='Alice')", {"u1"}),
    ("Q(age=30) & Q(name='Alice')", {"u1"}),
    ("Q(age=17) | Q(name='Alice')", {"u1", "u2"}),
    ("~Q(age__gt=18)", {"u2", "u3"}),  # ~ keeps the rows whose age is NULL
    ("~Q(name__startswith='C')", {"u1", "u2", "u4", "u5"}),
    ("~~Q(age=30)", {"u1", "u5"}),
    ("(Q(age=30) | Q(age=17)) & ~Q(name__startswith='A')", {"u2", "u5"}),
    ("Q(userId='u1') & ~Q(userId__in=['u1'])", set()),
    ("Q(Q(age=30), Q.OR, Q(age=45))", {"u1", "u4", "u5"}),
    ("Q(Q(age=30), Q.AND, Q(name='Alice'))", {"u1"}),
    ("Q()", ALL),
    ("", ALL),
    # JitAi's forms: a wrapped single condition, worded operators, like without % means "contains".
    ("Q(Q('age', '=', 1))", set()),
    ("Q(Q(age=30))", {"u1", "u5"}),
    ("Q(Q('age', 'gt', 30))", {"u4", "u6"}),
    ("Q(Q(Q('age', 'gte', 45)))", {"u4"}),
    ("Q('age', 'ne', 30)", {"u2", "u3", "u4", "u6"}),
    ("Q('age', 'lt', 18)", {"u2"}),
    ("Q('age', 'lte', 17)", {"u2"}),
    ("Q(Q('age', 'gt', 18), Q.AND, Q('age', 'lt', 31))", {"u1", "u5"}),
    ("Q('name', 'isnull', 1)", {"u4"}),
    ("Q('name', 'isnull', 0)", ALL - {"u4"}),
    ("Q(name__like='Car')", {"u3", "u6"}),
    ("Q('name', 'like', 'ol')", {"u3", "u6"}),
    ("Q(name__nlike='%o%')", {"u1", "u4", "u5"}),  # a NULL name does not contain it
    ("Q('name', 'nlike', 'Carol')", {"u1", "u2", "u4", "u5"}),
    ("Q(name__likeany=['Ali', 'bo'])", {"u1", "u2"}),
    ("Q('name', 'likeany', ['%sure', 'X1'])", {"u5", "u6"}),
    ("Q(name__likeany=[])", set()),
    ("Q(name__nlikeany=['Ali', 'bo'])", {"u3", "u4", "u5", "u6"}),
    ("Q(name__nlikeany=[])", ALL),
    ("Q(departments__nlike='%2%')", {"u3", "u4", "u6"}),
    # Date parts of a date-time are those of its UTC date: u4 joined 2023-12-31 23:59:59 in Beijing.
    ("Q(joinedAt__year=2024)", {"u1", "u2"}),
    ("Q('joinedAt', 'year', 2023)", {"u4"}),
    ("Q(joinedAt__month=6)", {"u2"}),
    ("Q(joinedAt__month=12) & Q(joinedAt__day=31)", {"u4"}),
    ("Q('joinedAt', 'day', 1)", {"u1", "u2"}),
    ("~Q(joinedAt__year=2024)", {"u3", "u4", "u5", "u6"}),
]


@pytest.mark.parametrize(("source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_strings_select_the_same_rows_on_every_engine(
    seeded: ModelManager, source: str, expected: set[str]
) -> None:
    assert user_ids(seeded, source) == expected


def test_python_q_objects_and_dicts(seeded: ModelManager) -> None:
    assert user_ids(seeded, Q(userId="u1") & ~Q(age__in=[17])) == {"u1"}
    assert user_ids(seeded, Q(joinedAt__lt=datetime(2024, 1, 1, tzinfo=UTC))) == {"u4"}
    assert user_ids(seeded, Q(salary=Decimal("99999999.99"))) == {"u4"}
    assert user_ids(seeded, Q(Q(age=17), Q.OR, Q(age=45))) == {"u2", "u4"}
    assert user_ids(seeded, {"userId": "u2"}) == {"u2"}
    assert user_ids(seeded, None) == ALL


def test_injection_attempts_select_nothing_extra(seeded: ModelManager) -> None:
    # The value travels as a bound parameter: the quote is part of the name searched for.
    assert user_ids(seeded, "Q(name=\"x' OR '1'='1\")") == set()
    assert user_ids(seeded, 'Q(name__like="%\' OR 1=1 --")') == set()
    with pytest.raises(FilterError, match="is not a valid filter expression"):
        seeded.query("Q(name='x') or 1=1")


@pytest.mark.parametrize(
    ("source", "fragments"),
    [
        ("Q(userid='u1')", ["model Member has no field 'userid'", "did you mean 'userId'?", "at `Q(userid='u1')`"]),
        ("Q(nmae__in=['a'])", ["no field 'nmae'", "did you mean 'name'?"]),
        ("Q('agee', '>', 1)", ["no field 'agee'", "did you mean 'age'?"]),
        ("Q(age='abc')", ["Integer field 'age': expected an integer, got str"]),
        ("Q(age__in=[1, 'x'])", ["Integer field 'age': expected an integer, got str"]),
        ("Q(age__like='1%')", ["lookup 'like' does not apply to Integer field 'age'"]),
        ("Q(active__gt=True)", ["lookup 'gt' does not apply to Boolean field 'active'"]),
        ("Q(active='yes')", ["Boolean field 'active': expected True or False"]),
        ("Q(joinedAt='2024-01-01')", ["Datetime field 'joinedAt': needs a timezone-aware datetime"]),
        ("Q(joinedAt='yesterday')", ["'yesterday' is not an ISO 8601 date-time"]),
        ("Q(salary='abc')", ["Numeric field 'salary': 'abc' is not a number"]),
        ("Q(departments='[1]')", ["'eq' does not apply to JitList field 'departments'"]),
        ("Q(departments=[1])", ["list is not a filter value"]),
        ("Q(name=1)", ["Stext field 'name': expected text, got int"]),
        ("Q(name__year=2024)", ["lookup 'year' does not apply to Stext field 'name'"]),
        ("Q(age__likeany=['1'])", ["lookup 'likeany' does not apply to Integer field 'age'"]),
        ("Q(joinedAt__nlike='2024%')", ["lookup 'nlike' does not apply to Datetime field 'joinedAt'"]),
    ],
)
def test_filters_on_fields_the_model_cannot_compare_are_rejected(
    members: ModelManager, source: str, fragments: list[str]
) -> None:
    with pytest.raises(FilterError) as caught:
        members.query(source)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_the_largest_filter_allowed_runs_on_every_engine(members: ModelManager) -> None:
    # 500 terms (the most allowed), each a NULL-aware `nin`, OR-ed under the deepest negation
    # allowed: still within SQLite's expression depth of 1000 and PostgreSQL's stack.
    members.create(member("u1", age=7))
    members.create(member("u2", age=None))
    terms = Q(age__nin=[0, None])
    for i in range(1, MAX_TERMS):
        terms = terms | Q(age__nin=[i, None])
    deepest = terms
    for _ in range(MAX_DEPTH - 1):
        deepest = ~deepest
    assert deepest.node is not None and deepest.node.depth == MAX_DEPTH
    assert user_ids(members, deepest) == {"u2"}  # an odd number of negations of "age is not NULL"
    # The most values a filter string may compare, in one list.
    listed = "Q(age__in=[" + ",".join(["7"] * MAX_VALUES) + "])"
    assert user_ids(members, listed) == {"u1"}


def test_a_filter_the_database_cannot_evaluate_is_a_filter_error(
    database: Any, members: ModelManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    members.create(member("u1", age=7))
    if database.kind == "sqlite":
        # Past the term bound (lifted here to reach the database), SQLite refuses the expression.
        monkeypatch.setattr(qfilter, "MAX_TERMS", 5_000)
        too_large = Q(age=0)
        for i in range(1, 1_500):
            too_large = too_large | Q(age=i)
        expected = "SQLite cannot evaluate a filter this large"
    else:
        # Q objects built in Python have no value bound; PostgreSQL binds at most 65535 per statement.
        too_large = Q(age__in=list(range(70_000)))
        expected = "PostgreSQL cannot bind more than 65535 values in one statement"
    calls = [
        lambda: members.query(too_large),
        lambda: members.get(too_large),
        lambda: members.updateOrAdd(too_large, {"name": "x"}),
        lambda: members.updateByFilter(too_large, {"name": "x"}),
        lambda: members.deleteByFilter(too_large),
    ]
    for call in calls:
        with pytest.raises(FilterError) as caught:
            call()
        message = str(caught.value)
        assert message.startswith("invalid filter on Member: " + expected), message
        assert "field__in=[...]" in message and "split the query" in message
        # Neither SQL text nor bound values reach the message, and no driver error is chained.
        assert "SELECT" not in message and "members" not in message and "1499" not in message
        assert caught.value.__suppress_context__ and caught.value.__cause__ is None
    assert members.get(Q(userId="u1")) is not None  # nothing was deleted or changed


@pytest.mark.parametrize(
    "filter",
    [
        "Q(name='a\\x00b')",
        "Q(name__in=['ok', 'a\\x00'])",
        "Q(name__startswith='\\ud800')",
        "Q('name', '=', '\\udfff')",
        "Q(name='\ud800')",
        "Q(name='\x00')",
        {"name": "a\x00"},
        {"na\x00me": "a"},
    ],
    ids=["nul", "nul in list", "surrogate", "positional surrogate", "raw surrogate", "raw nul", "dict", "dict key"],
)
def test_nul_and_lone_surrogates_never_reach_the_driver(members: ModelManager, filter: Any) -> None:
    members.create(member("u1", name="a"))
    for call in (
        lambda: members.query(filter),
        lambda: members.get(filter),
        lambda: members.updateByFilter(filter, {"age": 1}),
        lambda: members.deleteByFilter(filter),
    ):
        with pytest.raises(FilterError) as caught:
            call()
        message = str(caught.value)
        assert "NUL character" in message or "lone surrogate" in message, message
        assert message.isprintable()
