"""One clock for every component, looked up at call time so tests can freeze or move time.

Components call :func:`now` or :func:`utc_now` when they need the time, never bind ``time.time``
early (a default argument or an attribute set at construction), so both freezegun and an injected
clock reach them::

    from jitlite.runtime import clock

    with clock.use_clock(lambda: 1_700_000_000.0):
        ...  # every jitlite component sees that instant

Durations measured on one machine (timeouts, backoff) keep using ``time.monotonic``: they are not
wall-clock time and freezing them would hang loops.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

__all__ = ["Clock", "now", "set_clock", "use_clock", "utc_now"]

Clock = Callable[[], float]
"""A source of wall-clock time: seconds since the epoch, like ``time.time``."""

_source: Clock | None = None


def now() -> float:
    """Return the current wall-clock time in seconds since the epoch."""
    source = _source
    # time.time is looked up here, at call time, so freezegun's patch is honoured.
    return source() if source is not None else time.time()


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.fromtimestamp(now(), timezone.utc)


def set_clock(source: Clock | None) -> None:
    """Make every component read time from ``source``; ``None`` restores the system clock."""
    global _source
    _source = source


@contextmanager
def use_clock(source: Clock) -> Iterator[None]:
    """Read time from ``source`` inside the block, then restore the previous clock."""
    previous = _source
    set_clock(source)
    try:
        yield
    finally:
        set_clock(previous)
