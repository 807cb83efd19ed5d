"""jitlite's Flask layer: JitAi's API, the OAuth round trip, pages, callbacks and JSON endpoints for an App.

``create_web_app(app)`` returns a Flask app; ``blueprint(app)`` gives the routes to mount in yours::

    GET  /login                                            the login page (the app's active login elements)
    GET  /login/<authFullName>[/workbench]                 start a login: state cookie, then the provider
    GET  /login/<authFullName>/callback?code&state         finish it: session cookie, then ``next``
    POST /login/choose · POST /logout                      the corp chooser · end the session
    GET  /me · GET /admin                                  the user and their synced org · callbacks and syncs
    POST /api/<orgId>/<appName>/<element path>/<function>  JitAi's API (jitlite.web.api)

    GET  /auth/<authFullName>/config                       a login element's public login config
    GET  /auth/<authFullName>/qr-url?corpId=&redirectUri=  the WeCom QR login URL (with a fresh state)
    POST /auth/<authFullName>/login-code                   {code, state, corpId?, loginType?} → login code
    POST /auth/session                                     {loginCode, corpId?, platform?} → session token
    GET  /auth/session      (Authorization: Bearer …)      the session
    DELETE /auth/session    (Authorization: Bearer …)      log out

and the routes each login Type declares (``webRoutes``); ``auths.loginTypes.QywxProxyType`` adds::

    POST|GET /callbacks/qywx-proxy[/<authFullName>]        WeCom suite callbacks (or /api/…/notify)
    GET  /auth/qywx-proxy/workbench?corpId=&code=          workbench login → session token (JSON)
    GET  /auth/org/<code>                                  QR login config of an organisation code (JSON)
    GET  /login/org/<code>                                 QR login of the corp with that organisation code

What the routes guarantee:

* ``<authFullName>`` must name a login element (an instance of a Type built on
  ``auths.loginTypes.Meta``); any other name answers 404 before anything is built, without listing
  names. A disabled one (``isActive: false``) answers 403.
* A login code is accepted only with the ``state`` its login element issued: single use, ten
  minutes, bound to the corp and, in the browser round trip, to the browser (an HttpOnly cookie).
* Bodies are capped before they are read: callbacks 64 KiB, JSON endpoints 16 KiB (413 beyond).
* Errors say who must act by their status (``jitlite.web.errors``): JSON ``{"error", "requestId"}``
  on the JSON endpoints, JitAi's envelope on the API, a page in the browser; unexpected ones are 500,
  logged with their traceback and request id. Every response has ``X-Request-Id``; jitlite's
  responses have ``Cache-Control: no-store``.
* Types never import Flask: they take plain values and return :class:`jitlite.meta.replies.Reply`,
  which ``jitlite.web.replies`` turns into responses.
"""

from __future__ import annotations

from .api import api_prefix
from .blueprint import LoginDirectory, blueprint, create_web_app
from .bodies import CALLBACK_BODY_LIMIT, JSON_BODY_LIMIT
from .errors import REQUEST_ID_HEADER
from .sessions import SESSION_COOKIE

__all__ = ["CALLBACK_BODY_LIMIT", "JSON_BODY_LIMIT", "REQUEST_ID_HEADER", "SESSION_COOKIE", "LoginDirectory",
           "api_prefix", "blueprint", "create_web_app"]
