"""jitlite's Flask layer: WeCom callbacks, login endpoints and sessions for an App.

``create_web_app(app)`` returns a Flask app; ``blueprint(app)`` gives the routes to mount in yours::

    POST|GET /callbacks/qywx-proxy[/<authFullName>]     WeCom suite callbacks (notify)
    GET  /auth/<authFullName>/config                     a login element's public login config
    GET  /auth/<authFullName>/qr-url?corpId=&redirectUri= the WeCom QR login URL (with a fresh state)
    POST /auth/<authFullName>/login-code                 {code, state, corpId?, loginType?} → login code
    GET  /auth/qywx-proxy/workbench?corpId=&code=         workbench login → session token
    GET  /auth/org/<code>                                 QR login config of an organisation code
    POST /auth/session                                    {loginCode, corpId?, platform?} → session token
    GET  /auth/session      (Authorization: Bearer …)     the session
    DELETE /auth/session    (Authorization: Bearer …)     log out

What the routes guarantee:

* ``<authFullName>`` must name a login element (an instance of a Type built on
  ``auths.loginTypes.Meta``); any other name answers 404 before anything is built, without listing
  names. A disabled one (``isActive: false``) answers 403.
* ``login-code`` requires the ``state`` that its login element issued (in the URL from ``qr-url``):
  single use, ten minutes, bound to the corp; without it the answer is 400. Python callers of
  ``getLoginCode`` may still omit it.
* Bodies are capped before they are read: callbacks 64 KiB, JSON endpoints 16 KiB (413 beyond).
  JSON endpoints take ``application/json`` objects with the fields and types listed; anything else
  is a 400 with a JSON error.
* Errors are JSON ``{"error", "requestId"}`` with a status that says who must act (see
  ``jitlite.web.errors``); unexpected ones are 500, logged with their traceback and request id.
  Every response has ``X-Request-Id``; the routes' responses have ``Cache-Control: no-store``.
"""

from __future__ import annotations

from .blueprint import LoginDirectory, blueprint, create_web_app
from .bodies import CALLBACK_BODY_LIMIT, JSON_BODY_LIMIT
from .errors import REQUEST_ID_HEADER

__all__ = ["CALLBACK_BODY_LIMIT", "JSON_BODY_LIMIT", "REQUEST_ID_HEADER", "LoginDirectory", "blueprint",
           "create_web_app"]
