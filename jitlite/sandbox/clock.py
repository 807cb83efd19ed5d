"""The sandbox clock: every expiry in the sandbox reads it, and tests move it forward."""

from __future__ import annotations

import threading
import time

__all__ = ["Clock"]


class Clock:
    """Return seconds since the epoch, shifted by however far the clock was advanced.

    A live clock follows the wall clock (plus the offset); a frozen clock stands still until
    `advance` moves it, which keeps tests deterministic.
    """

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._frozen = frozen
        self._start = time.time() if start is None else float(start)
        # A live clock measures elapsed time from here, so `start` shifts it as a whole.
        self._wall_at_start = time.time()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def frozen(self) -> bool:
        """Return whether the clock only moves when advanced."""
        return self._frozen

    def now(self) -> float:
        """Return the current sandbox time in seconds since the epoch."""
        with self._lock:
            elapsed = 0.0 if self._frozen else time.time() - self._wall_at_start
            return self._start + elapsed + self._offset

    def timestamp(self) -> int:
        """Return the current sandbox time as whole seconds, as WeCom's TimeStamp fields carry it."""
        return int(self.now())

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def __repr__(self) -> str:
        kind = "frozen" if self._frozen else "live"
        return f"Clock({kind}, now={self.now():.0f})"
