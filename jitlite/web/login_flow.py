"""The OAuth round trip in the browser, as Authlib's clients do it, for every login Type::

    GET  /login/<authFullName>[?next=&corpId=&loginType=]   issue a state, bind it to this browser, go to the provider
    GET  /login/<authFullName>/workbench[?corpId=&next=]    the same through WeCom's in-client OAuth (the workbench)
    GET  /login/<authFullName>/callback?code=&state=        check the state against this browser's, open a session
    POST /login/choose                                      the corp a member of several corps picked
    POST /logout                                            end the session

The state is issued by the login element (``LoginStates``: random, single use, expiring) with what
the login was started for (corp, loginType, ``next``) kept server-side, and set in the browser as an
HttpOnly, SameSite=Lax cookie (Secure over https). The callback accepts a state only if it equals
that cookie *and* the element can spend it, so a code delivered to another browser (login CSRF) or
replayed is refused. A user whose login gives several corps picks one on a chooser page (the login
code waits in an HttpOnly cookie, never in the page). The session token is set as an HttpOnly,
SameSite=Lax cookie and the browser goes on to ``next`` — a path on this site only.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response as BaseResponse

from jitlite.runtime.app import App
from jitlite.runtime.errors import LoginStateInvalid

from .directory import LoginDirectory
from .sessions import (
    AUTH_SERVICE,
    LOGIN_CODE_COOKIE,
    SESSION_COOKIE,
    STATE_COOKIE,
    check_form,
    clear_cookie,
    csrf_token,
    current_session,
    safe_next,
    set_cookie,
)

__all__ = ["add_login_routes"]

HOME = "/me"
_CORP_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_LOGIN_TYPE = re.compile(r"[A-Za-z]{1,32}")
_LOGIN_CODE_SECONDS = 300  # a login code lives five minutes


def _query_value(name: str, pattern: re.Pattern[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and not pattern.fullmatch(value):
        raise BadRequest(f"{name} is malformed")
    return value


def _login_root() -> str:
    """Return the path the login cookies are scoped to (``/login/`` under wherever jitlite is mounted)."""
    return url_for(".login_page") + "/"


def _home(path: str) -> str:
    """Return a same-site path under wherever jitlite is mounted."""
    return url_for(".login_page")[: -len("/login")] + path


def add_login_routes(bp: Blueprint, app: App, directory: LoginDirectory) -> None:
    """Add the browser login round trip to the pages' blueprint."""

    def start(name: str, login_type: str | None) -> BaseResponse:
        element = directory.login(name)
        next_url = safe_next(request.args.get("next"), _home(HOME))
        corp_id = _query_value("corpId", _CORP_ID)
        state = element.issueState(corpId=corp_id, loginType=login_type, next=next_url)
        callback = url_for(".login_callback", auth_full_name=name, _external=True)
        try:
            target = element.buildLoginUrl(callback, state, corpId=corp_id, loginType=login_type)
        except NotImplementedError:
            raise NotFound("this login element has no browser login") from None
        response = redirect(target, 302)
        set_cookie(response, STATE_COOKIE, state, path=_login_root(), max_age=int(element.loginStates.ttl))
        return response

    @bp.get("/login/<auth_full_name>")
    def start_login(auth_full_name: str) -> BaseResponse:
        return start(auth_full_name, _query_value("loginType", _LOGIN_TYPE))

    @bp.get("/login/<auth_full_name>/workbench")
    def start_workbench_login(auth_full_name: str) -> BaseResponse:
        return start(auth_full_name, "workbench")

    @bp.get("/login/<auth_full_name>/callback")
    def login_callback(auth_full_name: str) -> BaseResponse:
        element = directory.login(auth_full_name)
        state = request.args.get("state") or ""
        mine = request.cookies.get(STATE_COOKIE) or ""
        if not state or not mine or not hmac.compare_digest(state.encode("utf-8", "surrogatepass"), mine.encode()):
            raise LoginStateInvalid("this login was not started in this browser, or has expired; start it again")
        binding = element.loginStates.consume(state)
        code = request.args.get("code")
        if not code:
            raise BadRequest("the login was cancelled: the provider sent no code back; start it again")
        outcome = element.login(code, None, **element.redirectContext(binding))
        issued = element.loginCodeFor(outcome)
        next_url = safe_next(binding.get("next"), _home(HOME))
        corps = issued["corpList"]
        if len(corps) > 1:
            page = render_template("jitlite/choose_corp.html", corps=corps, next_url=next_url,
                                   csrf=csrf_token(issued["loginCode"]))
            response: BaseResponse = Response(page)
            set_cookie(response, LOGIN_CODE_COOKIE, issued["loginCode"], path=_login_root(),
                       max_age=_LOGIN_CODE_SECONDS)
        else:
            response = _open_session(issued["loginCode"], corps[0]["corpId"] if corps else None, next_url)
        clear_cookie(response, STATE_COOKIE, path=_login_root())
        return response

    def _open_session(login_code: str, corp_id: str | None, next_url: str) -> BaseResponse:
        session: dict[str, Any] = app.getElement(AUTH_SERVICE).exchangeLoginCode(login_code, corp_id, "web")
        response = redirect(next_url, 302)
        set_cookie(response, SESSION_COOKIE, session["token"], path="/", expires=session["expiresAt"])
        return response

    @bp.post("/login/choose")
    def choose_corp() -> BaseResponse:
        login_code = request.cookies.get(LOGIN_CODE_COOKIE) or ""
        if not login_code:
            raise BadRequest("no login is waiting for a corp in this browser; log in again")
        check_form(login_code)
        corp_id = request.form.get("corpId") or ""
        if not _CORP_ID.fullmatch(corp_id):
            raise BadRequest("choose one of the corps listed")
        response = _open_session(login_code, corp_id, safe_next(request.form.get("next"), _home(HOME)))
        clear_cookie(response, LOGIN_CODE_COOKIE, path=_login_root())
        return response

    @bp.post("/logout")
    def logout() -> BaseResponse:
        session = current_session(app)
        if session is not None:
            check_form(session.token)
            app.getElement(AUTH_SERVICE).logout(session.token)
        response = redirect(url_for(".login_page"), 303)
        clear_cookie(response, SESSION_COOKIE, path="/")
        return response
