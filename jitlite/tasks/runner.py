"""The Celery runner of the callback inbox: the task carries the record id, the database row stays the truth."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import broker_url, queue_name, queue_of

if TYPE_CHECKING:
    from celery import Celery

    from ..meta.inbox import CallbackInbox, InboxRunner

__all__ = ["PROCESS_CALLBACKS", "CeleryRunner", "inbox_runner", "producer"]

log = logging.getLogger("jitlite.tasks")

PROCESS_CALLBACKS = "jitlite.process_callbacks"  # a batch of record ids: what the runner sends
DEFAULT_SEND_LINGER = 0.2  # seconds a batch of ids gathers before it is sent as one task
DEFAULT_SEND_BATCH = 400  # record ids one task carries at most
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
    """Send scheduled record ids to the Celery queue in batches, where ``jitlite worker`` processes them.

    ``element`` is the fullName of the service that owns the inbox; the worker opens the same app
    (``JITLITE_APP``), gets that element and lets its inbox claim the records under a lease. Ids
    submitted within ``linger`` seconds of each other (at most ``batch_size``) go out as one task
    from a sender thread, so a callback's answer never waits for the broker and the worker claims
    and processes a batch at a time. A send that fails is logged and its records stay pending in
    the database, where the lease sweep finds and re-sends them: a broker outage or a process that
    dies before sending loses nothing, the records being committed already.
    """

    #: Work runs in other processes: the inbox keeps no queue of its own for this runner.
    local = False

    def __init__(self, element: str, broker: str, queue: str, *, linger: float = DEFAULT_SEND_LINGER,
                 batch_size: int = DEFAULT_SEND_BATCH) -> None:
        self.element = element
        self.broker = broker
        self.queue = queue
        self.linger = linger
        self.batch_size = batch_size
        self._sent: dict[int, None] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._unsent: list[int] = []
        self._sender: threading.Thread | None = None
        self._sender_pid = 0
        self._closed = False
        self._inbox: CallbackInbox | None = None

    def __repr__(self) -> str:
        return f"CeleryRunner({self.element!r})"

    def bind(self, inbox: CallbackInbox) -> None:
        """Remember the inbox whose records wait_idle reads, and start the sender (which loads Celery's sending
        machinery now, so the first callbacks do not wait behind it)."""
        self._inbox = inbox
        with self._lock:
            self._ensure_sender()

    def _ensure_sender(self) -> None:
        """Start this process's sender thread unless it runs (call holding the lock)."""
        # A forked process (gunicorn's workers) inherits no thread: start this process's own.
        if not self._closed and (self._sender is None or self._sender_pid != os.getpid()):
            self._sender_pid = os.getpid()
            self._sender = threading.Thread(target=self._send_loop, name=f"{self.element}-sender", daemon=True)
            self._sender.start()

    def submit(self, record_id: int) -> None:
        """Queue the record id for the next batch task (acknowledged late: a dead worker's batch is redone)."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed; a sweep will send record {record_id}")
            self._unsent.append(int(record_id))
            self._sent[int(record_id)] = None
            while len(self._sent) > _TRACKED_LIMIT:
                self._sent.pop(next(iter(self._sent)))
            if len(self._unsent) == 1 or len(self._unsent) >= self.batch_size:
                self._ready.notify()  # the sender waits for a first id, then for a full batch or the linger
            self._ensure_sender()

    def _send_loop(self) -> None:
        """Send what was submitted, a batch task at a time, until closed and drained."""
        self._warm()
        while True:
            with self._lock:
                while not self._unsent and not self._closed:
                    self._ready.wait()
                if not self._unsent:
                    return
                deadline = time.monotonic() + self.linger
                while len(self._unsent) < self.batch_size and not self._closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._ready.wait(remaining)
                batch, self._unsent = self._unsent[:self.batch_size], self._unsent[self.batch_size:]
            self._send(batch)

    def _warm(self) -> None:
        """Import and build what the first send needs (about a second of imports), without connecting."""
        try:
            sender = producer(self.broker)
            sender.amqp  # noqa: B018 - a cached property that imports Celery's message protocol
            connection = sender.connection_for_write()
            connection.transport  # noqa: B018 - imports the broker's transport
            connection.release()
        except Exception as exc:  # only a head start: the first send reports a real problem
            log.debug("could not prepare the Celery producer ahead of the first send: %s", type(exc).__name__)

    def _send(self, batch: list[int]) -> None:
        try:
            producer(self.broker).send_task(PROCESS_CALLBACKS, args=[self.element, batch], queue=self.queue)
        except Exception as exc:  # committed records: the sweep sends them again
            log.warning("could not send %d callback record(s) to the queue (%s: %s); the lease sweep will "
                        "send them again", len(batch), type(exc).__name__, str(exc).splitlines()[0][:200])

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
        """Send what is still unsent, stop the sender and forget what was sent."""
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            sender = self._sender if self._sender_pid == os.getpid() else None
        if sender is not None and sender is not threading.current_thread():
            sender.join(timeout=10)
        with self._lock:
            self._sent.clear()


def inbox_runner(app: Any, element: str) -> Callable[[Callable[[list[int]], None]], InboxRunner] | None:
    """Return the runner factory the app's settings choose for element's inbox (None: the in-process default)."""
    if queue_of(app.settings) != "celery":
        return None
    variables = app.envVars
    broker, queue = broker_url(variables), queue_name(variables)
    return lambda _work: CeleryRunner(element, broker, queue)
