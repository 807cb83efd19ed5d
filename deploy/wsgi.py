"""The WSGI entry gunicorn serves: the jitlite app in the folder named by JITLITE_APP.

Imported by each gunicorn worker after it forks (``preload_app`` is off, see gunicorn.conf.py), so
every worker opens its own App: its own import hook, database engine and cache connections.
"""

from __future__ import annotations

from jitlite.web import create_web_app
from jitlite.web.serving import app_from_env

app = app_from_env()
application = create_web_app(app)
