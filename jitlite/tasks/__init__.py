"""Background work on Celery: callback records, organisation syncs, reconciliation and lease sweeps.

Start a worker and the scheduler for an app (variables only, no code)::

    JITLITE_APP=path/to/app JITLITE_BROKER_URL=redis://127.0.0.1:6379/1 celery -A jitlite.tasks worker
    JITLITE_APP=path/to/app JITLITE_BROKER_URL=redis://127.0.0.1:6379/1 celery -A jitlite.tasks beat

(``jitlite worker`` and ``jitlite beat`` do the same.) Tasks carry ids only — a record id, a corp
key — and read everything else from the database, the source of truth. Every task is acknowledged
after it ran (``acks_late``) and requeued when its worker process dies (``task_reject_on_worker_lost``);
a second delivery is harmless because a callback record is claimed under a lease by one conditional
update, and an organisation sync holds the corp's sync lease (one sync per corp across machines).
Beat sends ``jitlite.reconcile`` every ``reconcileSeconds`` (default 3600) and
``jitlite.sweep_callbacks`` every ``callbackSweepSeconds`` (default 60).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..meta.inbox import DEFAULT_LEASE_SECONDS, DEFAULT_SWEEP_SECONDS
from ..runtime.settings import read_setting
from .config import APP_VARIABLE, broker_url, queue_name, reconcile_seconds
from .runner import PROCESS_CALLBACKS, CeleryRunner, inbox_runner

if TYPE_CHECKING:
    from celery import Celery

    from ..runtime.app import App

__all__ = [
    "PROCESS_CALLBACKS",
    "RECONCILE",
    "SWEEP_CALLBACKS",
    "SYNC_CORP",
    "CeleryRunner",
    "inbox_runner",
    "make_celery",
    "worker_app",
]

log = logging.getLogger("jitlite.tasks")

RECONCILE = "jitlite.reconcile"
SWEEP_CALLBACKS = "jitlite.sweep_callbacks"
SYNC_CORP = "jitlite.sync_corp"
_MAX_TASK_IDS = 1000  # record ids one process_callbacks task may carry (the runner sends at most 400)

_app_lock = threading.Lock()
_opened: dict[str, App] = {}


def _app_path(path: str | os.PathLike[str] | None = None) -> Path:
    value = path or os.environ.get(APP_VARIABLE)
    if not value:
        raise RuntimeError(f"set {APP_VARIABLE} to the app folder the worker serves (e.g. {APP_VARIABLE}=./myapp)")
    return Path(value)


def worker_app(path: str | os.PathLike[str] | None = None) -> App:
    """Return this process's App for the folder in ``JITLITE_APP`` (opened once per process, after any fork)."""
    from ..runtime.app import App

    key = f"{os.getpid()}:{_app_path(path).resolve()}"
    with _app_lock:
        app = _opened.get(key)
        if app is None or app.closed:
            app = _opened[key] = App(_app_path(path))
        return app


def _service_inbox(app: App, element: str) -> Any:
    inbox = getattr(app.getElement(element), "inbox", None)
    if inbox is None:
        raise LookupError(f"{element} has no callback inbox")
    return inbox


def process_callbacks(element: str, record_ids: list[int]) -> int:
    """Claim and process a batch of callback records in one claim; return how many this worker ran.

    Records another worker holds or finished are left alone, so a redelivered task is harmless.
    """
    if not isinstance(record_ids, list) or len(record_ids) > _MAX_TASK_IDS:
        raise ValueError(f"process_callbacks takes a list of at most {_MAX_TASK_IDS} record ids")
    inbox = _service_inbox(worker_app(), element)
    return int(inbox.process_many([int(i) for i in record_ids], raise_errors=False))


def sweep_callbacks() -> int:
    """Re-send records whose lease expired or that nobody picked up; return how many."""
    from ..meta.auths import callback_inboxes

    app = worker_app()
    return sum(int(_service_inbox(app, service).sweep()) for service in callback_inboxes(app))


def sync_corp(corpFullName: str, corpId: str, authFullName: str | None = None) -> dict[str, Any]:
    """Sync one organisation; return its report, or why it was skipped or failed.

    One sync per corp runs at a time across machines by the organisation's sync lease (in the
    database, renewed while the sync lives): a sync running elsewhere makes this one a skip.
    """
    from ..meta.corps import organisations, organisations_for, reconcile

    app = worker_app()
    candidates = organisations_for(app, authFullName, corpId) if authFullName else organisations(app)
    corp = next((c for c in candidates if c.corpFullName == corpFullName), None)
    if corp is None:
        log.warning("sync of %s skipped: the app has no such organisation any more", corpFullName)
        return {"skipped": "no such organisation"}
    [result] = reconcile(app, only=[corp])
    if result.skipped:
        log.info("sync of %s skipped: %s", corpFullName, result.skipped)
        return {"skipped": result.skipped}
    if result.error:
        return {"error": result.error}
    return result.report or {}


def reconcile(send: Any = None) -> int:
    """Send one sync task per organisation of the app (folder instances and authorised corps); return how many."""
    from ..meta.corps import organisations

    app = worker_app()
    sent = 0
    for corp in organisations(app):
        args = [corp.corpFullName, corp.corpId, getattr(corp, "authFullName", None)]
        (send or _send)(SYNC_CORP, args)
        sent += 1
    return sent


def _send(name: str, args: list[Any]) -> None:
    from .runner import producer

    variables = worker_app().envVars
    producer(broker_url(variables)).send_task(name, args=args, queue=queue_name(variables))


def make_celery(path: str | os.PathLike[str] | None = None, broker: str | None = None) -> Celery:
    """Build the Celery app of a jitlite app: its tasks, late acknowledgement and beat schedule from settings."""
    from celery import Celery

    app = worker_app(path)
    settings = app.settings
    sweep = float(read_setting(settings, "callbackSweepSeconds", DEFAULT_SWEEP_SECONDS))
    every = reconcile_seconds(settings)
    url = broker or broker_url(app.envVars)
    queue = queue_name(app.envVars)
    celery = Celery("jitlite", broker=url, set_as_current=True)
    celery.conf.update(
        task_serializer="json", accept_content=["json"], result_backend=None, task_ignore_result=True,
        # The row is the truth and claims are idempotent, so a task is acknowledged only after it ran
        # and is requeued when the process running it dies.
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True, task_default_queue=queue,
        # A message taken by a worker that vanished returns to the queue after this long; the lease
        # sweep usually gets there first.
        broker_transport_options={"visibility_timeout": 2 * float(read_setting(
            settings, "callbackLeaseSeconds", DEFAULT_LEASE_SECONDS))},
        beat_schedule={
            **({"reconcile-organisations": {"task": RECONCILE, "schedule": every,
                                                    "options": {"queue": queue}}} if every else {}),
            **({"sweep-callback-leases": {"task": SWEEP_CALLBACKS, "schedule": sweep,
                                                  "options": {"queue": queue}}} if sweep else {}),
        },
    )
    # The store failing is retried; a malformed task (bad ids, an unknown service) never gets better.
    retry = {"autoretry_for": (Exception,), "dont_autoretry_for": (ValueError, LookupError),
             "retry_backoff": True, "max_retries": 3}
    celery.task(name=PROCESS_CALLBACKS, acks_late=True, reject_on_worker_lost=True, **retry)(process_callbacks)
    celery.task(name=SWEEP_CALLBACKS, acks_late=True, reject_on_worker_lost=True)(sweep_callbacks)
    celery.task(name=SYNC_CORP, acks_late=True, reject_on_worker_lost=True)(sync_corp)
    celery.task(name=RECONCILE, acks_late=True, reject_on_worker_lost=True)(reconcile)
    return celery


def __getattr__(name: str) -> Any:
    # `celery -A jitlite.tasks` looks up `app` (then `celery`): build it on first use, not at import.
    if name in ("app", "celery"):
        built = globals().get("_celery")
        if built is None:
            built = globals()["_celery"] = make_celery()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
