"""gunicorn settings for a jitlite app: ``gunicorn -c deploy/gunicorn.conf.py`` (with JITLITE_APP set).

Every value can be changed by a variable, so one file serves every machine.
"""

import os

# deploy/wsgi.py builds the Flask app of the jitlite app in JITLITE_APP.
pythonpath = os.path.dirname(os.path.abspath(__file__))
wsgi_app = "wsgi:application"

bind = os.environ.get("JITLITE_BIND", "127.0.0.1:8000")

# Workers x threads: a callback request is a few milliseconds of CPU (signature, AES, one INSERT)
# and a login request waits mostly on WeCom, so a few processes per core with threads each keep
# the cores busy without letting one slow WeCom call block a process. The gthread worker is the
# one to use: the sync worker would serialise each process on its slowest request.
workers = int(os.environ.get("JITLITE_WORKERS", "4"))
threads = int(os.environ.get("JITLITE_THREADS", "16"))
worker_class = "gthread"

# WeCom waits 1 s for a callback answer and retries after that, so a request that takes seconds
# is already lost to the sender; 30 s only guards against a stuck worker (a hung WeCom call is
# bounded by the setting httpTimeout well before that).
timeout = int(os.environ.get("JITLITE_TIMEOUT", "30"))
graceful_timeout = 20  # finish requests in flight on SIGTERM; callbacks are stored before they are answered
keepalive = 5

# Do NOT preload. With preload_app the master would import deploy/wsgi.py, open the App (its import
# hook, its database engine and pool, its cache connections, the callback inbox's sweep thread) and
# then fork: the children would share the parent's sockets and SQLite handles, and threads started
# before the fork do not exist in the children. Each worker opening its own App after the fork is
# the supported way; the cost is one App start-up per worker.
preload_app = False

# Recycle workers now and then so that a slow leak in an app's own element code cannot grow forever.
max_requests = int(os.environ.get("JITLITE_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

accesslog = os.environ.get("JITLITE_ACCESS_LOG") or None  # "-" for stdout; off by default (callbacks are many)
errorlog = "-"
loglevel = os.environ.get("JITLITE_LOG_LEVEL", "info")


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """Close the worker's App as it stops (SIGTERM, max_requests): the callbacks it queued are run or sent now,
    rather than waiting a lease for the sweep."""
    import sys

    from jitlite import App

    app = getattr(sys.modules.get("wsgi"), "app", None)  # deploy/wsgi.py, imported only if this worker loaded it
    if isinstance(app, App):
        app.close()


def when_ready(server):  # type: ignore[no-untyped-def]
    """Warn, once, in the master when the app's state would not be shared by the workers."""
    from jitlite.web.serving import app_from_env, shared_state_warnings

    app = app_from_env()
    try:
        for warning in shared_state_warnings(app, server.cfg.workers):
            server.log.warning(warning)
    finally:
        app.close()
