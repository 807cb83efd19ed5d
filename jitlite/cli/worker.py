"""``jitlite worker`` and ``jitlite beat``: the Celery worker and scheduler of an app's background work."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..tasks.config import APP_VARIABLE
from .appopt import app_options

__all__ = ["beat", "worker"]

_BROKER = click.option("--broker", default=None, metavar="URL",
                       help="The broker URL (default: JITLITE_BROKER_URL or CELERY_BROKER_URL).")


def _celery(app_path: Path, broker: str | None) -> object:
    """Build the app's Celery app, with a usage error naming the fix when it cannot."""
    from ..tasks import make_celery

    os.environ[APP_VARIABLE] = str(app_path.resolve())  # so the worker's forked processes open the same app
    try:
        return make_celery(app_path, broker)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@click.command("worker", context_settings={"ignore_unknown_options": True})
@app_options()
@_BROKER
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per CPU).")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(app_path: Path, broker: str | None, concurrency: int | None, loglevel: str,
           celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for APP's callbacks and organisation syncs (extra arguments go to Celery)."""
    celery = _celery(app_path, broker)
    argv = ["worker", f"--loglevel={loglevel}", *([f"--concurrency={concurrency}"] if concurrency else []),
            *celery_args]
    celery.worker_main(argv)  # type: ignore[attr-defined]


@click.command("beat", context_settings={"ignore_unknown_options": True})
@app_options()
@_BROKER
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(app_path: Path, broker: str | None, loglevel: str, celery_args: tuple[str, ...]) -> None:
    """Run Celery beat for APP: periodic reconciliation (reconcileSeconds) and callback lease sweeps."""
    celery = _celery(app_path, broker)
    celery.start(["beat", f"--loglevel={loglevel}", *celery_args])  # type: ignore[attr-defined]
