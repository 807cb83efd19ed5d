"""The pages a person sees (plain HTML and CSS, Chinese and English, readable on a phone)::

    GET  /                      to /me when logged in, else /login
    GET  /login                 the app's active login elements, one button per way in
    GET  /me                    the user, the corp and its synced departments and members (paged, searchable)
    GET  /admin                 callback records (retry) and each organisation's last sync (sync now) — admins only
    POST /admin/callbacks/<service>/<id>/retry
    POST /admin/organisations/sync

Admins are the users the app's settings name (``admins``); anyone else gets 403. The admin page's
buttons are forms with a CSRF token and an Origin check (see ``jitlite.web.sessions``); each answers
by redirecting back to the page, which shows the outcome from the database (the record's status,
the organisation's sync state), so a reload never repeats it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, Forbidden, NotFound
from werkzeug.wrappers import Response as BaseResponse

from jitlite.meta.auths import callback_inboxes, login_type_class
from jitlite.meta.corps import Corp, organisations, reconcile
from jitlite.meta.inbox import LeaseHeld
from jitlite.runtime.app import App
from jitlite.storage import Q

from .api import api_prefix
from .directory import LoginDirectory
from .errors import Failure, install_error_handlers, request_id
from .login_flow import add_login_routes
from .sessions import AUTH_SERVICE, WebSession, check_form, csrf_token, current_session, is_admin

__all__ = ["pages_blueprint"]

log = logging.getLogger("jitlite.web")

PAGE_SIZE = 20
RECORD_STATUSES = ("pending", "processing", "done", "failed")
_MAX_SEARCH = 64


@dataclass(frozen=True)
class Page:
    """One page of rows and how to reach the others."""

    rows: list[Any]
    total: int
    number: int
    size: int

    @property
    def count(self) -> int:
        """Return how many pages there are (at least one)."""
        return max(1, math.ceil(self.total / self.size))


def _page_number(name: str) -> int:
    text = request.args.get(name, "1")
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise BadRequest(f"{name} must be a page number")
    return int(text)


def _search(name: str) -> str:
    # LIKE's % is dropped so a search is always "contains"; long searches are cut, not refused.
    return (request.args.get(name) or "").replace("%", "").strip()[:_MAX_SEARCH]


def _paged(model: Any, where: Q, order: list[list[Any]], number: int, size: int = PAGE_SIZE) -> Page:
    found = model.query(where, orderList=order, page=number, size=size)
    return Page(list(found["rowDatas"]), int(found["totalCount"]), number, size)


def _render_failure(failure: Failure) -> Response:
    response = Response(render_template("jitlite/error.html", status=failure.status, message=failure.message,
                                        request_id=request_id()), status=failure.status)
    response.headers.update(failure.headers)
    return response


def pages_blueprint(app: App, directory: LoginDirectory) -> Blueprint:
    """Return the login round trip and the pages for an App."""
    bp = Blueprint("jitlite_pages", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/jitlite-static")
    install_error_handlers(bp, _render_failure)
    add_login_routes(bp, app, directory)
    org_id, app_name = api_prefix(app.appId)

    @bp.context_processor
    def page_context() -> dict[str, Any]:
        return {"root": url_for(".login_page")[: -len("/login")], "app_title": app.title, "app_id": app.appId}

    def login_redirect() -> BaseResponse:
        return redirect(url_for(".login_page", next=request.full_path.rstrip("?")), 302)

    def admin_session() -> WebSession:
        session = current_session(app)
        if session is None or not is_admin(app, session):
            raise Forbidden("this page is for the app's admins (settings admins)")
        return session

    @bp.get("/")
    def home() -> BaseResponse:
        return redirect(url_for(".me_page" if current_session(app) else ".login_page"), 302)

    @bp.get("/login")
    def login_page() -> str:
        next_url = request.args.get("next") or ""
        return render_template("jitlite/login.html", app=app, logins=directory.listing(), next_url=next_url,
                               session=current_session(app))

    @bp.get("/me")
    def me_page() -> BaseResponse | str:
        session = current_session(app)
        if session is None:
            return login_redirect()
        auth = app.getElement(AUTH_SERVICE)
        user = auth.getUser(str(session["userId"]))
        corp_id = session.get("corpId")
        org = _organisation_of(app, corp_id) if corp_id else None
        context: dict[str, Any] = {"corp_name": _corp_name(app, directory, str(session["userId"]), corp_id)}
        if org is not None:
            store = org.orgStore
            dept_search, member_search = _search("dq"), _search("q")
            dept_where = store.key & (Q(name__like=dept_search) if dept_search else Q())
            member_where = store.key & ((Q(name__like=member_search) | Q(memberId__like=member_search)
                                         | Q(position__like=member_search)) if member_search else Q())
            members = _paged(store.members, member_where, [["name", 1], ["memberId", 1]], _page_number("page"))
            dept_ids = sorted({d for m in members.rows for d in (m.deptIds or [])})
            names = {row.deptId: row.name for row in store.depts.query(
                store.key & Q(deptId__in=dept_ids), fieldList=["deptId", "name"])["rowDatas"]} if dept_ids else {}
            context.update(
                depts=_paged(store.depts, dept_where, [["path", 1]], _page_number("dpage")),
                members=members, dept_names=names, dept_search=dept_search, member_search=member_search,
                sync=store.syncState.get(Q(corpFullName=org.corpFullName)))
        return render_template("jitlite/me.html", app=app, session=session, user=user, org=org,
                               identities=auth.identitiesOf(str(session["userId"])),
                               admin=is_admin(app, session), csrf=csrf_token(session.token), **context)

    @bp.get("/admin")
    def admin_page() -> BaseResponse | str:
        if current_session(app) is None:
            return login_redirect()
        session = admin_session()
        status = request.args.get("status") or None
        if status is not None and status not in RECORD_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(RECORD_STATUSES)}")
        inboxes = []
        for name in callback_inboxes(app):
            service = app.getElement(name)
            inboxes.append({"name": name, "title": service.title, "records": _paged(
                service.records, Q(status=status) if status else Q(), [["id", -1]], _page_number("page"))})
        orgs = [(org, org.orgStore.syncState.get(Q(corpFullName=org.corpFullName))) for org in organisations(app)]
        retried = request.args.get("retried")
        return render_template("jitlite/admin.html", app=app, session=session, inboxes=inboxes, orgs=orgs,
                               status=status, statuses=RECORD_STATUSES, csrf=csrf_token(session.token),
                               retried=retried if retried and retried.isdigit() else None,
                               synced=request.args.get("synced"), api_base=f"/api/{org_id}/{app_name}")

    @bp.post("/admin/callbacks/<service_name>/<int:record_id>/retry")
    def retry_callback(service_name: str, record_id: int) -> BaseResponse:
        session = admin_session()
        check_form(session.token)
        if service_name not in callback_inboxes(app):
            raise NotFound("no callback service has this name")
        service = app.getElement(service_name)
        try:
            service.retryCallBack(record_id)
        except LookupError:
            raise NotFound(f"no callback record {record_id}") from None
        except LeaseHeld:
            raise
        except ValueError as exc:
            return _conflict(str(exc))
        except Exception as exc:  # the handler failed again: the record says why, and the page shows it
            log.info("retrying callback record %s of %s failed again: %s", record_id, service_name,
                     type(exc).__name__)
        return redirect(url_for(".admin_page", retried=record_id) + f"#record-{record_id}", 303)

    @bp.post("/admin/organisations/sync")
    def sync_organisation() -> BaseResponse:
        session = admin_session()
        check_form(session.token)
        wanted = request.form.get("corpFullName") or ""
        found = [org for org in organisations(app) if org.corpFullName == wanted]
        if not found:
            raise NotFound("no organisation has this name")
        reconcile(app, only=found)  # its outcome (or error) is kept in the organisation's sync state
        return redirect(url_for(".admin_page", synced=wanted), 303)

    return bp


def _conflict(message: str) -> Response:
    return _render_failure(Failure(409, message))


def _organisation_of(app: App, corp_id: str) -> Corp | None:
    """Return the organisation of a corp (a folder instance first), or None if the app syncs none."""
    found = [org for org in organisations(app) if org.corpId == corp_id]
    found.sort(key=lambda org: org.isRuntime)
    return found[0] if found else None


def _corp_name(app: App, directory: LoginDirectory, user_id: str, corp_id: str | None) -> str | None:
    """Return the name of the session's corp, as the login elements serving it know it."""
    if not corp_id:
        return None
    for name in sorted(directory.logins()):
        cls = login_type_class(app, name)
        if cls is None or not cls.servesCorps or not directory.declared_active(name):
            continue
        for corp in app.getElement(name).corpsOf(user_id):
            if corp.get("corpId") == corp_id and corp.get("corpName"):
                return str(corp["corpName"])
    return None
