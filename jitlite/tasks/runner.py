"""The Celery runner of the callback inbox: the task carries the record id, the database row stays the truth."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import broker_url, queue_name, queue_of

if TYPE_CHECKING:
    from celery import Celery

    from ..meta.inbox import CallbackInbox, InboxRunner

__all__ = ["PROCESS_CALLBACK", "CeleryRunner", "inbox_runner", "producer"]

PROCESS_CALLBACK = "jitlite.process_callback"
_SETTLED = ("done", "failed")
_TRACKED_LIMIT = 100_000  # ids wait_idle remembers at most; older ones are forgotten (the rows stay the truth)
_producers: dict[str, Celery] = {}
_producers_lock = threading.Lock()


def producer(broker: str) -> Celery:
    """Return this process's Celery app that only sends tasks to broker (one per broker URL)."""
    with _producers_lock:
        found = _producers.get(broker)
        if found is None:
            from celery import Celery  # imported only when the queue is Celery: the embedded default needs none

            found = _producers[broker] = Celery("jitlite-producer", broker=broker, set_as_current=False)
            found.conf.update(broker_connection_retry_on_startup=True, task_serializer="json",
                              broker_transport_options={"max_retries": 3})
        return found


class CeleryRunner:
    """Send each scheduled record id to the Celery queue, where ``jitlite worker`` processes it.

    ``element`` is the fullName of the service that owns the inbox; the worker opens the same app
    (``JITLITE_APP``), gets that element and lets its inbox claim the record under a lease. Sending
    fails loudly (the caller logs it and a sweep re-sends), so a broker outage loses nothing: the
    record is already committed.
    """

    #: Work runs in other processes: the inbox keeps no queue of its own for this runner.
    local = False

    def __init__(self, element: str, broker: str, queue: str) -> None:
        self.element = element
        self.broker = broker
        self.queue = queue
        self._sent: dict[int, None] = {}
        self._lock = threading.Lock()
        self._inbox: CallbackInbox | None = None

    def __repr__(self) -> str:
        return f"CeleryRunner({self.element!r})"

    def bind(self, inbox: CallbackInbox) -> None:
        """Remember the inbox whose records wait_idle reads."""
        self._inbox = inbox

    def submit(self, record_id: int) -> None:
        """Send the record id to the queue (acknowledged late by the worker, so a dead worker's task is redone)."""
        producer(self.broker).send_task(PROCESS_CALLBACK, args=[self.element, int(record_id)], queue=self.queue)
        with self._lock:
            self._sent[int(record_id)] = None
            while len(self._sent) > _TRACKED_LIMIT:
                self._sent.pop(next(iter(self._sent)))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every record sent from here is done or failed in the database; False if time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = list(self._sent)
            if self._inbox is not None and waiting:
                settled = self._inbox.settled(waiting)
                with self._lock:
                    for record_id in settled:
                        self._sent.pop(record_id, None)
                    waiting = list(self._sent)
            if not waiting:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def close(self) -> None:
        """Nothing runs here; forget what was sent."""
        with self._lock:
            self._sent.clear()


def inbox_runner(app: Any, element: str) -> Callable[[Callable[[list[int]], None]], InboxRunner] | None:
    """Return the runner factory the app's settings choose for element's inbox (None: the in-process default)."""
    if queue_of(app.settings) != "celery":
        return None
    variables = app.envVars
    broker, queue = broker_url(variables), queue_name(variables)
    return lambda _work: CeleryRunner(element, broker, queue)
