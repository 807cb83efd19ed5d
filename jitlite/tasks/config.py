"""Which queue runs background work, and where its broker is: read from settings and variables only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..runtime.settings import read_setting

__all__ = [
    "APP_VARIABLE",
    "BROKER_VARIABLES",
    "DEFAULT_RECONCILE_SECONDS",
    "QUEUE_VARIABLE",
    "broker_url",
    "queue_name",
    "queue_of",
    "reconcile_seconds",
]

APP_VARIABLE = "JITLITE_APP"  # the app folder a Celery worker or beat serves
BROKER_VARIABLES = ("JITLITE_BROKER_URL", "CELERY_BROKER_URL")  # first one set wins
QUEUE_VARIABLE = "JITLITE_CELERY_QUEUE"  # the Celery queue an app's tasks go to (apps sharing a broker differ here)
DEFAULT_QUEUE_NAME = "jitlite"
DEFAULT_RECONCILE_SECONDS = 3600.0  # WeCom's id-only contact events need a full reconciliation this often


def queue_of(settings: Mapping[str, Any]) -> str:
    """Return the setting ``taskQueue`` ("thread", the default, or "celery"); raise ValueError naming the fix."""
    return str(read_setting(settings, "taskQueue", "thread"))


def broker_url(variables: Mapping[str, Any] | None = None) -> str:
    """Return the broker URL from JITLITE_BROKER_URL or CELERY_BROKER_URL (app variables, then the environment)."""
    for name in BROKER_VARIABLES:
        value = (variables or {}).get(name) or os.environ.get(name)
        if value:
            return str(value)
    raise ValueError("no Celery broker is named: set JITLITE_BROKER_URL (or CELERY_BROKER_URL), e.g. "
                     "redis://127.0.0.1:6379/1, in the environment or jitlite.toml [variables]")


def reconcile_seconds(settings: Mapping[str, Any]) -> float:
    """Return the setting ``reconcileSeconds`` (how often beat reconciles every corp; 0 turns it off)."""
    return float(read_setting(settings, "reconcileSeconds", DEFAULT_RECONCILE_SECONDS))


def queue_name(variables: Mapping[str, Any] | None = None) -> str:
    """Return the Celery queue of the app's tasks: JITLITE_CELERY_QUEUE (app variables, then the environment)."""
    value = (variables or {}).get(QUEUE_VARIABLE) or os.environ.get(QUEUE_VARIABLE) or DEFAULT_QUEUE_NAME
    return str(value)
