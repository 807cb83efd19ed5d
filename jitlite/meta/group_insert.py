"""Group insert: the rows of concurrent requests stored by one statement, each request answered after its commit.

A request that finds no insert under way leads: it takes the rows waiting (its own first, at most
``max_rows``), stores them with one ``createManyIfAbsent`` and wakes their requests. Rows that arrive
meanwhile wait for the next leader, the first of them, woken when that batch is committed. Under load
a batch holds what arrived during the previous one, so one round trip and one commit serve many
callbacks; a lone request stores its row at once, waiting for no company. Persist before acknowledge
still holds: a caller returns only after the commit that holds its row.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from ..storage import ConstraintError

__all__ = ["GroupInsert"]

DEFAULT_MAX_ROWS = 200  # rows one statement stores at most
# Failures of one row (refused by a constraint, or an invalid value): the others are stored one by one.
_ROW_ERRORS = (ConstraintError, ValueError, TypeError)


class _Slot:
    """One request's row and, once its batch is committed, its answer."""

    __slots__ = ("answered", "durable", "error", "lead", "ready", "result", "values")

    def __init__(self, values: Mapping[str, Any], durable: bool) -> None:
        self.values = values
        self.durable = durable
        self.ready = threading.Event()  # set when answered, or when the slot is made the next leader
        self.lead = False
        self.result: Any | None = None
        self.error: BaseException | None = None
        self.answered = False

    def answer(self) -> Any | None:
        if self.error is not None:
            raise self.error
        return self.result


class GroupInsert:
    """Store rows with ``createIfAbsent`` semantics, grouping concurrent callers into one statement.

    ``records`` is a model element (or manager) with ``createIfAbsent`` and ``createManyIfAbsent``.
    ``insert`` returns the row's new primary key, or None when its unique key is stored already.
    """

    def __init__(self, records: Any, *, max_rows: int = DEFAULT_MAX_ROWS, wait_seconds: float = 60.0,
                 busy_timeout: float | None = None) -> None:
        if max_rows < 1:
            raise ValueError(f"a group insert stores at least one row at a time, not {max_rows!r}")
        self.records = records
        self.max_rows = max_rows
        self.wait_seconds = wait_seconds
        # Passed on to the store (SQLite: how long to wait for another process's write lock).
        self._options: dict[str, Any] = {} if busy_timeout is None else {"busyTimeout": busy_timeout}
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._leading = False

    def insert(self, values: Mapping[str, Any], *, durable: bool = False) -> Any | None:
        """Store the row (with the rows of callers waiting at the same moment); return its new key or None.

        Raises what storing it raised, or TimeoutError if no commit answered within ``wait_seconds``.
        """
        with self._lock:
            alone = not self._leading and not self._waiting
            if alone:
                self._leading = True
        if alone:  # no company to wait for: store it at once, with nothing to hand out
            try:
                return self.records.createIfAbsent(values, durable=durable, **self._options)
            finally:
                self._hand_over()
        slot = _Slot(values, durable)
        with self._lock:
            self._waiting.append(slot)
            lead = slot.lead = not self._leading
            self._leading = True
        if not lead:
            if not slot.ready.wait(self.wait_seconds):
                with self._lock:
                    if slot in self._waiting and not slot.lead:  # not taken by any batch: withdraw it
                        self._waiting.remove(slot)
                        raise TimeoutError(f"the row was not stored within {self.wait_seconds:g} s")
                slot.ready.wait()  # in a batch being stored now, or just made the leader
            if not slot.lead:
                return slot.answer()
        self._lead()
        return slot.answer()

    def _lead(self) -> None:
        """Store the rows waiting (the leader's first) and hand the lead to the first row left, if any."""
        try:
            with self._lock:
                batch = self._waiting[:self.max_rows]
                del self._waiting[:self.max_rows]
            try:
                self._store(batch)
            except BaseException as exc:  # not an Exception (an interrupt): no request may wait for ever
                for slot in batch:
                    if not slot.answered:
                        self._answer(slot, None, exc)
                raise
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """Make the first row waiting the next leader, or leave the lead free."""
        with self._lock:
            if self._waiting:
                successor = self._waiting[0]
                successor.lead = True
                successor.ready.set()
            else:
                self._leading = False

    def _store(self, batch: list[_Slot]) -> None:
        """Store a batch in one statement; if a row was refused, each row on its own, so that only a bad row fails.

        Any other failure (the database down or locked) is every row's answer at once: storing them
        one by one would make the last caller wait one timeout per row.
        """
        try:
            if len(batch) == 1:
                results = [self.records.createIfAbsent(batch[0].values, durable=batch[0].durable, **self._options)]
            else:
                results = self.records.createManyIfAbsent([slot.values for slot in batch],
                                                          durable=any(slot.durable for slot in batch), **self._options)
        except Exception as exc:
            if len(batch) == 1 or not isinstance(exc, _ROW_ERRORS):
                for slot in batch:
                    self._answer(slot, None, exc)
                return
            for slot in batch:
                try:
                    self._answer(slot, self.records.createIfAbsent(slot.values, durable=slot.durable, **self._options),
                                 None)
                except Exception as exc:
                    self._answer(slot, None, exc)
            return
        for slot, result in zip(batch, results, strict=True):
            self._answer(slot, result, None)

    @staticmethod
    def _answer(slot: _Slot, result: Any | None, error: BaseException | None) -> None:
        slot.result, slot.error, slot.answered = result, None if error is None else _own_copy(error), True
        slot.lead = False
        slot.ready.set()


def _own_copy(error: BaseException) -> BaseException:
    """Return a copy of error for one caller, with the failure's traceback and cause.

    One failed statement answers many callers, each raising in its own thread: raising one shared
    object would splice every thread's frames into the same ``__traceback__``. An exception that
    cannot be copied is shared as it is.
    """
    try:
        mine = copy.copy(error)
    except Exception:
        return error
    if type(mine) is not type(error) or mine.args != error.args:
        return error
    mine.__cause__, mine.__context__ = error.__cause__, error.__context__
    mine.__suppress_context__ = error.__suppress_context__
    return mine.with_traceback(error.__traceback__)
