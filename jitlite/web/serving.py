"""Checks made when an app is served by a WSGI server: state several processes must share.

A gunicorn master (``deploy/gunicorn.conf.py``'s ``when_ready``) or any launcher that knows how many
processes serve an app calls :func:`shared_state_warnings` and logs what it returns.
"""

from __future__ import annotations

import os
from typing import Any

from ..runtime.app import App

__all__ = ["app_from_env", "shared_state_warnings"]


def shared_state_warnings(app: App, processes: int) -> list[str]:
    """Return warnings for state that ``processes`` processes serving ``app`` would not share."""
    if processes <= 1:
        return []
    name = app.defaultElementName("defaultCache")
    cache: Any = app.getElement(name)
    if getattr(cache, "sharedAcrossProcesses", True):
        return []
    return [
        f"{name} is an in-process cache ({type(cache).__name__}) but {processes} processes serve app "
        f"{app.appId!r}: OAuth states, tokens and replay nonces kept by one process are unknown to the "
        f"others, so logins fail with 'state expired' and tokens are fetched once per process. Fix: make "
        f"{name} a caches.SqliteType (one machine; the default) or caches.RedisType (several machines)."
    ]


def app_from_env() -> App:
    """Open the app in the folder named by ``JITLITE_APP`` (default: the current folder)."""
    return App(os.environ.get("JITLITE_APP", "."))
