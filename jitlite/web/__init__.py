"""jitlite's Flask layer: WeCom callbacks, login endpoints and sessions for an App.

``create_web_app(app)`` returns a Flask app; ``blueprint(app)`` gives the routes to mount in yours::

    POST|GET /callbacks/qywx-proxy[/<authFullName>]     WeCom suite callbacks (notify)
    GET  /auth/<authFullName>/config                     a login element's public login config
    GET  /auth/<authFullName>/qr-url?corpId=&redirectUri= the WeCom QR login URL (with a fresh state)
    POST /auth/<authFullName>/login-code                 {corpId, code, loginType?, state?} → login code
    GET  /auth/qywx-proxy/workbench?corpId=&code=         workbench login → session token
    GET  /auth/org/<code>                                 QR login config of an organisation code
    POST /auth/session                                    {loginCode, corpId?, platform?} → session token
    GET  /auth/session      (Authorization: Bearer …)     the session
    DELETE /auth/session    (Authorization: Bearer …)     log out
"""

from __future__ import annotations

from .blueprint import blueprint, create_web_app

__all__ = ["blueprint", "create_web_app"]
