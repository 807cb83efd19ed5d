"""JitAi model files (datatypes fields, class Meta) load unchanged and serve JitAi's model API."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite.meta.models import ModelElement
from jitlite.storage import AmbiguousFilterError, ConstraintError, FieldValueError, Q

CUSTOMER_E_JSON = {"backendBundleEntry": ".", "title": "Bad model", "type": "models.NormalType"}


def tables(path: Path) -> set[str]:
    """Return the names of the tables in a SQLite file."""
    with sqlite3.connect(path) as conn:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_documented_customer_model_builds_a_table_on_the_default_database(crm: jitlite.App) -> None:
    customers = crm.getElement("models.CustomerModel")
    assert isinstance(customers, ModelElement) and customers.databaseName() == "databases.Default"
    assert "CustomerModel" in tables(crm.root / "appData" / "jitlite.sqlite3")  # Meta.dbTable
    zhang = customers.create({"nick": "Zhang San", "phone": "13800138000", "email": "zs@example.com",
                              "address": {"province": "Guangdong", "city": "Shenzhen"}})
    assert zhang.id == 1 and zhang.address == {"province": "Guangdong", "city": "Shenzhen"}
    # createdAt and updatedAt, which JitAi's models always carry, are filled in.
    assert isinstance(zhang.createdAt, datetime) and isinstance(zhang.updatedAt, datetime)
    found = customers.get("Q(Q('id', '=', 1))", [])
    assert found is not None and found.nick == "Zhang San"
    with pytest.raises(FieldValueError, match=r"CustomerModel\.phone \(rowData\): '12345' is not a phone number"):
        customers.create({"nick": "Li Si", "phone": "12345"})


def test_query_returns_every_row_without_a_page_and_pages_with_one(crm: jitlite.App) -> None:
    customers = crm.getElement("models.CustomerModel")
    customers.createOrUpdateMany([{"nick": f"c{i:02d}", "phone": f"1380013{i:04d}"} for i in range(30)])
    everything = customers.query()
    assert everything["totalCount"] == 30 and len(everything["rowDatas"]) == 30  # not the first 20
    page = customers.query(filter="Q(Q('nick', 'startswith', 'c1'))", orderList=[["nick", -1]], page=1, size=4)
    assert page["totalCount"] == 10 and [r.nick for r in page["rowDatas"]] == ["c19", "c18", "c17", "c16"]
    assert customers.query(Q(Q("nick", "like", "c2")), None, None, 1, 20)["totalCount"] == 10
    only = customers.query(fieldList=["nick"], orderList=[["id", 1]], size=1)["rowDatas"][0]
    assert only.toDict() == {"nick": "c00"}


def test_jitai_write_signatures(crm: jitlite.App) -> None:
    customers = crm.getElement("models.CustomerModel")
    # createOrUpdateMany: rows without an id are created, rows with one update that row.
    assert customers.createOrUpdateMany([{"nick": "a"}, {"nick": "b"}, {"nick": "c"}]) == 3
    assert customers.createOrUpdateMany([{"id": 1, "nick": "a2"}, {"nick": "d"}], triggerEvent=0) == 2
    assert [r.nick for r in customers.query(orderList=[["id", 1]])["rowDatas"]] == ["a2", "b", "c", "d"]
    # updateOrAdd(filter, orderList, updateData, addData): update when found, add when not.
    updated = customers.updateOrAdd("Q(Q('nick', '=', 'b'))", [], {"email": "b@example.com"},
                                    {"nick": "b", "email": "new@example.com"})
    assert updated.id == 2 and updated.email == "b@example.com"
    added = customers.updateOrAdd("Q(Q('nick', '=', 'e'))", [], {"email": "x@example.com"}, {"nick": "e"})
    assert added.id == 5 and added.email is None
    # updateByPK / deleteByPK take lists of primary keys.
    rows = customers.updateByPK([1, 3], {"email": "bulk@example.com"})
    assert [r.id for r in rows] == [1, 3] and {r.email for r in rows} == {"bulk@example.com"}
    assert customers.deleteByPK([3, 4]) == 2
    assert customers.updateByFilter("Q(Q('email', 'isnull', 1))", {"email": "none@example.com"}) == 1
    assert customers.deleteByFilter("Q(email__likeany=['bulk', 'none'])") == 2
    assert [r.nick for r in customers.query()["rowDatas"]] == ["b"]


def test_jitai_types_and_meta_on_a_named_database(crm: jitlite.App) -> None:
    orders = crm.getElement("models.OrderModel")
    assert orders.databaseName() == "databases.CrmDB" and orders.title == "Orders"  # the field did not hide it
    database = crm.root / "appData" / "database" / "CrmDB" / "sqlite.db"
    assert "T_Order" in tables(database) and "T_Order" not in tables(crm.root / "appData" / "jitlite.sqlite3")
    with sqlite3.connect(database) as conn:
        indexes = {name: unique for _, name, unique, *_ in conn.execute("PRAGMA index_list('T_Order')")}
    assert indexes == {"ux_T_Order_orderNo": 1, "ix_T_Order_status_orderDate": 0}
    first = orders.create({"title": "First order", "orderNo": "A0001", "customerEmail": "a@example.cn",
                           "status": "active", "amount": "19.999", "quantity": 3, "weight": 1.25,
                           "orderDate": "2024-05-01", "tags": ["vip"], "extra": {"source": "web"}})
    assert first.title == "First order" and first.amount == Decimal("20.00") and first.weight == Decimal("1.250")
    assert first.orderDate == date(2024, 5, 1) and first.paid is False and first.tags == ["vip"]
    orders.createOrUpdateMany([
        {"orderNo": "A0001", "status": "closed", "orderDate": date(2024, 5, 1)},  # matched on Meta.unionUniqueList
        {"orderNo": "A0002", "status": "active", "orderDate": "2023-12-31", "paid": 1},
    ])
    assert orders.query()["totalCount"] == 2
    assert {r.orderNo for r in orders.query("Q(Q('orderDate', 'year', 2024))")["rowDatas"]} == {"A0001"}
    assert {r.orderNo for r in orders.query(Q("orderDate", "month", 12) & Q(paid=True))["rowDatas"]} == {"A0002"}
    assert orders.get(Q(orderNo="A0001")).status == "closed"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"orderNo": "A9", "status": "active"}, "text is 2 characters long; the field needs at least 4"),
        ({"orderNo": "A0009", "status": "open"}, "'open' is not one of the options ('active', 'closed')"),
        ({"orderNo": "A0009", "customerEmail": "nobody"}, "'nobody' is not an email address"),
        ({"orderNo": "A0009", "amount": "1e20"}, "does not fit Numeric(18, 2)"),
    ]
    for row, message in bad:
        with pytest.raises(FieldValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            orders.create(row)
    with pytest.raises(ConstraintError):
        orders.create({"orderNo": "A0002"})
    with pytest.raises(AmbiguousFilterError):
        orders.updateOrAdd(Q(), {"notes": "x"})


def test_update_stamps_follow_the_clock(crm: jitlite.App, monkeypatch: pytest.MonkeyPatch) -> None:
    from jitlite.runtime import clock

    orders = crm.getElement("models.OrderModel")
    created = orders.create({"orderNo": "B0001"})
    later = created.updatedAt.replace(year=created.updatedAt.year + 1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    changed = orders.updateByPK(created.id, {"notes": "paid late"})
    assert changed.updatedAt == later and changed.createdAt == created.createdAt


def bad_model_app(make_app: Callable[..., Path], body: str, e_json: dict[str, Any] | None = None) -> Path:
    """Write an app whose models/Bad/model.py has these fields and Meta."""
    source = ("from datatypes.Meta import datatypes\nfrom models.NormalType import NormalModel\n\n\n"
              f"class Bad(NormalModel):\n{body}")
    return make_app({"models/Bad/e.json": e_json or CUSTOMER_E_JSON,
                     "models/Bad/__init__.py": "from .model import Bad\n",
                     "models/Bad/model.py": source}, app_id="badmodel")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("    nick = datatypes.Stxt(name='nick')\n", ["field 'nick'", "datatypes.Stxt is not a JitAi data type",
                                                        "did you mean datatypes.Stext"]),
        ("    owner = datatypes.Member(name='owner')\n", ["field 'owner'", "does not support",
                                                            "keep the member's user id in a datatypes.Stext"]),
        ("    nick = datatypes.Stext(name='nick', maxlen=20)\n", ["no parameter 'maxlen'; did you mean 'maxLen'"]),
        ("    nick = datatypes.Stext(name='nik')\n", ["field 'nick'", "name='nik' differs", "write name='nick'"]),
        ("    total = datatypes.Numeric(name='total', formula=\"SUM(F('a'))\")\n", ["formula fields"]),
        ("    nick = datatypes.Stext(name='nick')\n    class Meta:\n        dbTabel = 'x'\n",
         ["Meta has no setting 'dbTabel'; did you mean 'dbTable'?"]),
        ("    nick = datatypes.Stext(name='nick')\n    class Meta:\n        unionUniqueList = "
         "[{'name': 'u', 'fieldNameList': ['nik']}]\n", ["Meta.unionUniqueList[0] names no field 'nik'",
                                                         "did you mean 'nick'"]),
        ("    nick = datatypes.Stext(name='nick')\n    class Meta:\n        dbTable = 'bad table'\n",
         ["'bad table' is not a usable table name", "Meta.dbTable"]),
        ("    get = datatypes.Stext(name='get')\n", ["'get' is reserved"]),
        ("    kind = datatypes.Dropdown(name='kind', options=['a'])\n", ["field 'kind'", "options must be a list"]),
    ],
)
def test_model_definition_mistakes_name_the_element_file_field_and_fix(
    make_app: Callable[..., Path], body: str, fragments: list[str]
) -> None:
    root = bad_model_app(make_app, body)
    app = jitlite.App(root, environ={})
    with pytest.raises(jitlite.ElementBuildError) as caught:
        app.getElement("models.Bad")
    message = str(caught.value)
    for fragment in ["models.Bad", str(root / "models" / "Bad" / "model.py"), *fragments]:
        assert fragment in message, message
    assert any("models.Bad" in failure for failure in app.checkClasses())  # what `jitlite check` reports


def test_a_model_names_one_database(make_app: Callable[..., Path]) -> None:
    body = "    nick = datatypes.Stext(name='nick')\n    class Meta:\n        db = 'databases.Default'\n"
    e_json = {**CUSTOMER_E_JSON, "db": "databases.Other"}
    root = bad_model_app(make_app, body, e_json)
    (root / "databases" / "Other").mkdir(parents=True)
    (root / "databases" / "Other" / "e.json").write_text('{"title": "Other", "type": "databases.SqliteType"}')
    (root / "databases" / "Other" / "Other.json").write_text('{"dbConfig": {"database": "appData/other.db"}}')
    with pytest.raises(jitlite.ElementBuildError, match=r"named differently in several places \(e\.json db is "
                                                         r"'databases\.Other'; model\.py Meta\.db is"):
        jitlite.App(root, environ={}).getElement("models.Bad")
    with pytest.raises(jitlite.ElementLoadError, match=r"refers to 'databases\.Nowhere', which is not an element"):
        bad_model_app(make_app, body, {**CUSTOMER_E_JSON, "db": "databases.Nowhere"})
        jitlite.App(root, environ={})


def test_models_without_a_db_use_the_apps_default_database(make_app: Callable[..., Path]) -> None:
    files = {"models/Note/e.json": {**CUSTOMER_E_JSON, "title": "Note"},
             "models/Note/__init__.py": "from .model import Note\n",
             "models/Note/model.py": "from datatypes.Meta import datatypes\nfrom models.NormalType import NormalModel\n"
                                     "\n\nclass Note(NormalModel):\n    body = datatypes.Ltext(name='body')\n",
             "databases/Main/e.json": {"title": "Main", "type": "databases.SqliteType"},
             "databases/Main/Main.json": {"dbType": "sqlite", "dbConfig": {"database": "appData/main.db"}}}
    settings = {"secretKeyFile": "appData/secret.key", "defaultElement": {"defaultDatabase": "databases.Main"}}
    root = make_app(files, app_id="defaultdb", settings=settings)
    notes = jitlite.App(root, environ={}).getElement("models.Note")
    assert notes.databaseName() == "databases.Main" and notes.create({"body": "hi"}).id == 1
    assert "Note" in tables(root / "appData" / "main.db")
