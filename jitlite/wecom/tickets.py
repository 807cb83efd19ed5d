"""Where suite_tickets pushed by WeCom are kept until a suite token is fetched with them."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

__all__ = ["TICKET_RETENTION_SECONDS", "MemoryTicketStore", "TicketStore"]

# WeCom pushes a ticket about every 10 minutes and each stays valid 30 minutes.
TICKET_RETENTION_SECONDS = 30 * 60


@runtime_checkable
class TicketStore(Protocol):
    """Keeps the newest suite_ticket per suite; an older ticket never replaces a newer one."""

    def save(self, suite_id: str, ticket: str, received_at: float) -> None:
        """Record a ticket pushed at received_at (Unix seconds) unless a newer one is already held."""
        ...

    def latest(self, suite_id: str) -> tuple[str, float] | None:
        """Return (ticket, received_at) of the newest ticket for suite_id, or None."""
        ...


class MemoryTicketStore:
    """In-process TicketStore: keeps the newest ticket per suite for the life of the process."""

    def __init__(self) -> None:
        self._tickets: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def save(self, suite_id: str, ticket: str, received_at: float) -> None:
        """Record a ticket pushed at received_at unless a newer one is already held."""
        if not suite_id or not ticket:
            raise ValueError("suite_id and ticket must be non-empty")
        with self._lock:
            current = self._tickets.get(suite_id)
            # Pushes can arrive out of order (WeCom retries); equal times are a re-delivery.
            if current is None or received_at >= current[1]:
                self._tickets[suite_id] = (ticket, float(received_at))

    def latest(self, suite_id: str) -> tuple[str, float] | None:
        """Return (ticket, received_at) of the newest ticket for suite_id, or None."""
        with self._lock:
            return self._tickets.get(suite_id)

    def __repr__(self) -> str:
        return f"MemoryTicketStore(suites={sorted(self._tickets)})"
