"""Group insert: concurrent rows share one statement; each caller gets its own answer after the commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from jitlite.meta.group_insert import GroupInsert
from jitlite.storage import FieldValueError, Integer, Model, ModelManager, Stext, create_sqlite_engine


class Item(Model):
    """A row with a unique key, as callback records have."""

    __tablename__ = "items"
    __unique__ = (("key",),)
    key = Stext(max_length=32)
    size = Integer(default=0)


class Recording:
    """The records a group insert writes to, counting its calls; the first single insert can be held."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.singles: list[Mapping[str, Any]] = []
        self.batches: list[list[Mapping[str, Any]]] = []
        self.hold = threading.Event()
        self.held = threading.Event()
        self.hold.set()

    def createIfAbsent(self, rowData: Mapping[str, Any], *, durable: bool = False) -> Any | None:
        self.singles.append(rowData)
        self.held.set()
        assert self.hold.wait(10)
        return self.manager.createIfAbsent(rowData, durable=durable)

    def createManyIfAbsent(self, rows: Sequence[Mapping[str, Any]], *, durable: bool = False) -> list[Any | None]:
        self.batches.append(list(rows))
        return self.manager.createManyIfAbsent(rows, durable=durable)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sqlite_engine(tmp_path / "items.sqlite3")
    yield engine
    engine.dispose()


@pytest.fixture
def records(engine: Engine) -> Recording:
    return Recording(Item.bind(engine))


def test_a_lone_caller_stores_its_row_at_once_with_a_single_insert(records: Recording) -> None:
    group = GroupInsert(records)
    first = group.insert({"key": "a"})
    assert group.insert({"key": "a"}) is None  # stored already
    assert isinstance(first, int) and records.batches == [] and len(records.singles) == 2


def test_callers_arriving_during_an_insert_are_stored_together_by_the_next_leader(records: Recording) -> None:
    group = GroupInsert(records)
    records.hold.clear()
    answers: dict[str, Any] = {}

    def insert(key: str) -> None:
        answers[key] = group.insert({"key": key})

    leader = threading.Thread(target=insert, args=("lead",))
    leader.start()
    assert records.held.wait(10)  # the leader's insert is under way
    keys = ["lead", *[f"k{i}" for i in range(6)], "k0"]  # the leader's key and k0 come again
    followers = [threading.Thread(target=insert, args=(key,)) for key in keys[1:-1]]
    for thread in followers:
        thread.start()
    while len(group._waiting) < len(followers):
        threading.Event().wait(0.005)
    records.hold.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert [len(batch) for batch in records.batches] == [6]  # one statement for everyone who waited
    stored = {row.key: row.id for row in records.manager.query()["rowDatas"]}
    assert answers == stored
    assert group.insert({"key": "k0"}) is None and group.insert({"key": "lead"}) is None


def test_a_bad_row_in_a_batch_fails_alone(records: Recording) -> None:
    group = GroupInsert(records)
    records.hold.clear()
    outcomes: dict[str, Any] = {}

    def insert(key: str, size: Any) -> None:
        try:
            outcomes[key] = group.insert({"key": key, "size": size})
        except Exception as exc:  # the finding
            outcomes[key] = exc

    leader = threading.Thread(target=insert, args=("lead", 1))
    leader.start()
    assert records.held.wait(10)
    followers = [threading.Thread(target=insert, args=(key, size))
                 for key, size in (("good", 2), ("bad", "not a number"), ("fine", 3))]
    for thread in followers:
        thread.start()
    while len(group._waiting) < 3:
        threading.Event().wait(0.005)
    records.hold.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert isinstance(outcomes["bad"], FieldValueError)
    assert all(isinstance(outcomes[key], int) for key in ("lead", "good", "fine"))
    assert sorted(row.key for row in records.manager.query()["rowDatas"]) == ["fine", "good", "lead"]


def test_a_caller_that_times_out_withdraws_its_row_and_the_next_caller_still_leads(records: Recording) -> None:
    group = GroupInsert(records, wait_seconds=0.2)
    records.hold.clear()
    leader = threading.Thread(target=group.insert, args=({"key": "slow"},))
    leader.start()
    assert records.held.wait(10)
    with pytest.raises(TimeoutError, match=r"not stored within 0\.2 s"):
        group.insert({"key": "impatient"})
    records.hold.set()
    leader.join(10)
    assert group.insert({"key": "later"}) is not None  # the lead was handed on, not lost
    assert sorted(row.key for row in records.manager.query()["rowDatas"]) == ["later", "slow"]


def test_a_row_that_cannot_be_stored_raises_for_its_caller_and_the_lead_goes_on(records: Recording) -> None:
    group = GroupInsert(records)
    with pytest.raises(FieldValueError, match=r"Item\.size"):
        group.insert({"key": "x", "size": "not a number"})
    assert group.insert({"key": "after"}) is not None


def test_a_store_that_fails_answers_every_waiting_caller_at_once(records: Recording) -> None:
    group = GroupInsert(records)
    records.hold.clear()
    outcomes: dict[str, Any] = {}

    def insert(key: str) -> None:
        try:
            outcomes[key] = group.insert({"key": key})
        except Exception as exc:  # the finding
            outcomes[key] = exc

    leader = threading.Thread(target=insert, args=("lead",))
    leader.start()
    assert records.held.wait(10)
    followers = [threading.Thread(target=insert, args=(f"k{i}",)) for i in range(5)]
    for thread in followers:
        thread.start()
    while len(group._waiting) < 5:
        threading.Event().wait(0.005)
    down = OperationalError("INSERT", {}, Exception("database is locked"))

    def refuse(rows: Sequence[Mapping[str, Any]], *, durable: bool = False) -> list[Any | None]:
        records.batches.append(list(rows))
        raise down

    records.createManyIfAbsent = refuse  # type: ignore[method-assign]
    records.hold.set()
    for thread in [leader, *followers]:
        thread.join(10)
    # One failed statement answers the five waiting callers; none is retried alone (each would wait
    # its own lock timeout, one after another).
    assert [len(batch) for batch in records.batches] == [5] and len(records.singles) == 1
    assert isinstance(outcomes["lead"], int)
    errors = [outcomes[f"k{i}"] for i in range(5)]
    # Each caller raises its own copy (the same type, text and cause), so that their threads do not
    # write their frames into one shared traceback.
    assert all(type(error) is OperationalError and str(error) == str(down) for error in errors)
    assert all(error.orig is down.orig for error in errors)
    assert len({id(error) for error in errors} | {id(down)}) == 6
