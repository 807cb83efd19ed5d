"""The WSGI entry gunicorn serves: the jitlite app in the folder named by JITLITE_APP.

Imported by each gunicorn worker after it forks (``preload_app`` is off, see gunicorn.conf.py), so
every worker opens its own App: its own import hook, database engine and cache connections.
"""

from __future__ import annotations

import os

from jitlite.runtime.app import App
from jitlite.web import create_web_app

application = create_web_app(App(os.environ.get("JITLITE_APP", ".")))
