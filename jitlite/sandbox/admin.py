"""The admin API under /sandbox/: register apps, authorise corps, edit the org, move the clock,
push tickets, read the logs and inject faults. JSON in, JSON out; errors answer 400 with
``{"error": ..., "errcode": ...}``. Every endpoint has a SandboxState method of the same purpose.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from jitlite.sandbox._web import EXTENSION, json_response, sandbox_state
from jitlite.sandbox.callbacks import UrlCheck
from jitlite.sandbox.errors import ApiError, SandboxError

__all__ = ["bp", "record_url_check", "url_checks"]

bp = Blueprint("sandbox_admin", __name__, url_prefix="/sandbox")


@bp.errorhandler(SandboxError)
def _sandbox_error(exc: SandboxError) -> Response:
    data: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, ApiError):
        data.update(errcode=exc.errcode, errmsg=exc.errmsg)
    return json_response(data, 400)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and request.get_data(cache=True).strip():
        raise SandboxError("the body must be a JSON object")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SandboxError("the body must be a JSON object")
    return data


def _pick(data: dict[str, Any], *required: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    missing = [key for key in required if key not in data]
    if missing:
        raise SandboxError(f"missing {', '.join(missing)}")
    unknown = set(data) - set(required) - set(optional)
    if unknown:
        raise SandboxError(f"unknown keys {sorted(unknown)}")
    return data


def _done(**data: Any) -> Response:
    return json_response({"ok": True, **data})


@bp.get("/")
def overview() -> Response:
    """Return what the sandbox holds."""
    state = sandbox_state()
    with state.lock:
        return _done(
            now=state.clock.now(),
            corps=[{"corp_id": c.corp_id, "corp_name": c.corp_name, "members": len(c.members),
                    "departments": len(c.departments)} for c in state.org.corps.values()],
            suites=[s.to_dict() for s in state.suites.values()],
            apps=[a.to_dict() for a in state.apps.values()],
            wechat_apps=[a.to_dict() for a in state.wechat_apps.values()],
            providers=[p.to_dict() for p in state.providers.values()],
            authorizations=[a.to_dict() for a in state.authorizations.values()],
            wechat_users=len(state.org.wechat_users),
            ticket_thread=state.ticket_thread_running,
        )


# -- registrations -------------------------------------------------------------------------------


@bp.post("/suites")
def register_suite() -> Response:
    """Register a suite: suite_id, secret, token, encoding_aes_key, callback_url, kind, ..."""
    data = _pick(_body(), "suite_id", "secret", "token", "encoding_aes_key",
                 optional=("callback_url", "data_callback_url", "kind", "provider_corp_id", "name",
                           "home_url", "contact_ids_only"))
    suite = sandbox_state().register_suite(**data)
    return _done(suite=suite.to_dict())


@bp.patch("/suites/<suite_id>")
def update_suite(suite_id: str) -> Response:
    """Change a suite (callback_url, data_callback_url, kind, home_url, ...)."""
    suite = sandbox_state().update_suite(suite_id, **_body())
    return _done(suite=suite.to_dict())


_URL_CHECKS = "jitlite_sandbox_url_checks"
_URL_CHECKS_KEPT = 20  # verifications remembered per suite


def url_checks(app: Flask | None = None) -> dict[str, list[UrlCheck]]:
    """Return the callback URL verifications of a sandbox app (the one handling the request), by suite id."""
    checks: dict[str, list[UrlCheck]] = (app or current_app).extensions.setdefault(_URL_CHECKS, {})
    return checks


def record_url_check(app: Flask, suite_id: str, check: UrlCheck) -> None:
    """Keep a callback URL verification of suite_id (at start-up, or when a suite's URL is set)."""
    state = app.extensions[EXTENSION]
    with state.lock:
        kept = url_checks(app).setdefault(suite_id, [])
        kept.append(check)
        del kept[:-_URL_CHECKS_KEPT]


@bp.post("/suites/<suite_id>/callback-url")
def set_callback_url(suite_id: str) -> Response:
    """Register a suite's callback URL (and optionally data_callback_url) after WeCom's URL verification.

    Each URL is sent a GET with an encrypted echostr at once; only if every one answers the decrypted
    echostr is the suite changed (as WeCom refuses to save a URL that fails). The result of each check
    is kept (GET answers them); a failure answers 400 with the checks.
    """
    data = _pick(_body(), "callback_url", optional=("data_callback_url", "timeout"))
    timeout = data.get("timeout", 5.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 30:
        raise SandboxError("timeout must be a number of seconds in (0, 30]")
    state = sandbox_state()
    suite = state.suite(suite_id)
    urls = {"callback_url": data["callback_url"]}
    if data.get("data_callback_url"):
        urls["data_callback_url"] = data["data_callback_url"]
    for value in urls.values():
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise SandboxError("callback URLs must be http(s) URLs")
    checks = {key: state.pusher.verify_url(url, suite.token, suite.encoding_aes_key, suite.suite_id,
                                           timeout=float(timeout)) for key, url in urls.items()}
    for check in checks.values():
        record_url_check(current_app, suite_id, check)
    answer = {key: check.to_dict() for key, check in checks.items()}
    if not all(check.ok for check in checks.values()):
        failed = "; ".join(f"{c.url}: {c.error}" for c in checks.values() if not c.ok)
        return json_response({"error": f"URL verification failed: {failed}", "checks": answer}, 400)
    changed = state.update_suite(suite_id, **urls)
    return _done(suite=changed.to_dict(), checks=answer)


@bp.get("/suites/<suite_id>/callback-url")
def callback_url_checks(suite_id: str) -> Response:
    """Return a suite's callback URLs and the verifications done for it, oldest first."""
    state = sandbox_state()
    with state.lock:
        suite = state.suite(suite_id)
        checks = [c.to_dict() for c in url_checks().get(suite_id, [])]
    return _done(callback_url=suite.callback_url, data_callback_url=suite.data_callback_url, checks=checks)


@bp.post("/apps")
def register_app() -> Response:
    """Register a self-built app: corp_id, agent_id, secret, allow_party, allow_user, home_url."""
    data = _pick(_body(), "corp_id", "agent_id", "secret",
                 optional=("name", "allow_party", "allow_user", "home_url"))
    corp_id, agent_id, secret = data.pop("corp_id"), data.pop("agent_id"), data.pop("secret")
    app = sandbox_state().register_app(corp_id, agent_id, secret, **data)
    return _done(app=app.to_dict())


@bp.post("/wechat-apps")
def register_wechat_app() -> Response:
    """Register a WeChat website app: appid, secret, open_account."""
    data = _pick(_body(), "appid", "secret", optional=("open_account", "name"))
    appid, secret = data.pop("appid"), data.pop("secret")
    app = sandbox_state().register_wechat_app(appid, secret, **data)
    return _done(wechat_app=app.to_dict())


@bp.post("/providers")
def register_provider() -> Response:
    """Register a provider: corp_id, secret."""
    data = _pick(_body(), "corp_id", "secret", optional=("name",))
    provider = sandbox_state().register_provider(data.pop("corp_id"), data.pop("secret"), **data)
    return _done(provider=provider.to_dict())


@bp.post("/corps")
def add_corp() -> Response:
    """Add a corp given as an org-file corp entry."""
    corp = sandbox_state().add_corp(_body())
    return _done(corp_id=corp.corp_id, members=len(corp.members), departments=len(corp.departments))


@bp.get("/corps/<corp_id>")
def get_corp(corp_id: str) -> Response:
    """Return a corp in the org-file format."""
    state = sandbox_state()
    with state.lock:
        return _done(corp=state.corp(corp_id).to_dict())


@bp.post("/wechat-users")
def add_wechat_user() -> Response:
    """Add a WeChat user: key, nickname, sex, province, city, country, headimgurl."""
    data = _pick(_body(), "key", "nickname",
                 optional=("sex", "province", "city", "country", "headimgurl"))
    user = sandbox_state().add_wechat_user(data)
    return _done(wechat_user=user.to_dict())


# -- authorisation -------------------------------------------------------------------------------


@bp.get("/authorizations")
def list_authorizations() -> Response:
    """Return every authorisation."""
    state = sandbox_state()
    with state.lock:
        return _done(authorizations=[a.to_dict() for a in state.authorizations.values()])


@bp.post("/authorizations")
def authorize() -> Response:
    """Authorise suite_id in corp_id (allow_party limits the scope) and push create_auth."""
    data = _pick(_body(), "suite_id", "corp_id",
                 optional=("allow_party", "allow_user", "state", "admin_userid"))
    state = sandbox_state()
    code = state.authorize(data.pop("suite_id"), data.pop("corp_id"), **data)
    auth = state.authorization(code.suite_id, code.corp_id)
    assert auth is not None
    return _done(auth_code=code.value, agent_id=auth.agent_id)


@bp.patch("/authorizations/<suite_id>/<corp_id>")
def change_auth(suite_id: str, corp_id: str) -> Response:
    """Change allow_party / allow_user of an authorisation and push change_auth."""
    data = _pick(_body(), optional=("allow_party", "allow_user"))
    auth = sandbox_state().change_auth(suite_id, corp_id, **data)
    return _done(authorization=auth.to_dict())


@bp.delete("/authorizations/<suite_id>/<corp_id>")
def cancel_auth(suite_id: str, corp_id: str) -> Response:
    """Withdraw an authorisation and push cancel_auth."""
    auth = sandbox_state().cancel_auth(suite_id, corp_id)
    return _done(authorization=auth.to_dict())


@bp.post("/authorizations/<suite_id>/<corp_id>/reset-permanent-code")
def reset_permanent_code(suite_id: str, corp_id: str) -> Response:
    """Replace the permanent code and push reset_permanent_code."""
    code = sandbox_state().reset_permanent_code(suite_id, corp_id)
    return _done(auth_code=code.value)


# -- org edits -------------------------------------------------------------------------------------


@bp.post("/corps/<corp_id>/members")
def add_member(corp_id: str) -> Response:
    """Add a member (org-file member entry) and push create_user."""
    member = sandbox_state().add_member(corp_id, _body())
    return _done(member=member.to_dict())


@bp.patch("/corps/<corp_id>/members/<userid>")
def update_member(corp_id: str, userid: str) -> Response:
    """Change a member's fields and push update_user."""
    member = sandbox_state().update_member(corp_id, userid, **_body())
    return _done(member=member.to_dict())


@bp.delete("/corps/<corp_id>/members/<userid>")
def delete_member(corp_id: str, userid: str) -> Response:
    """Delete a member and push delete_user."""
    member = sandbox_state().delete_member(corp_id, userid)
    return _done(member=member.to_dict())


@bp.post("/corps/<corp_id>/departments")
def add_department(corp_id: str) -> Response:
    """Add a department (id, name, parentid, order) and push create_party."""
    dept = sandbox_state().add_department(corp_id, _body())
    return _done(department=dept.to_dict())


@bp.patch("/corps/<corp_id>/departments/<int:dept_id>")
def update_department(corp_id: str, dept_id: int) -> Response:
    """Change a department and push update_party."""
    dept = sandbox_state().update_department(corp_id, dept_id, **_body())
    return _done(department=dept.to_dict())


@bp.delete("/corps/<corp_id>/departments/<int:dept_id>")
def delete_department(corp_id: str, dept_id: int) -> Response:
    """Delete an empty department and push delete_party."""
    dept = sandbox_state().delete_department(corp_id, dept_id)
    return _done(department=dept.to_dict())


# -- clock, tickets, codes, tokens -------------------------------------------------------------------


@bp.get("/clock")
def clock() -> Response:
    """Return the sandbox time."""
    return _done(now=sandbox_state().clock.now())


@bp.post("/clock/advance")
def advance_clock() -> Response:
    """Move the sandbox clock forward by `seconds`."""
    data = _pick(_body(), "seconds")
    seconds = data["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise SandboxError("seconds must be a non-negative number")
    return _done(now=sandbox_state().advance(seconds))


@bp.post("/suites/<suite_id>/ticket")
def push_ticket(suite_id: str) -> Response:
    """Issue and push a new suite_ticket to one suite."""
    tickets = sandbox_state().push_suite_ticket(suite_id)
    return _done(suite_ticket=tickets[0].value)


@bp.post("/tickets")
def push_tickets() -> Response:
    """Issue and push a new suite_ticket to every suite with a callback URL."""
    tickets = sandbox_state().push_suite_ticket()
    return _done(tickets={t.suite_id: t.value for t in tickets})


@bp.post("/ticket-thread")
def ticket_thread() -> Response:
    """Start (`enabled: true`, optional `interval`) or stop the background ticket pushes."""
    data = _pick(_body(), "enabled", optional=("interval",))
    state = sandbox_state()
    if data["enabled"]:
        state.start_ticket_thread(data.get("interval"))
    else:
        state.stop_ticket_thread()
    return _done(running=state.ticket_thread_running)


@bp.post("/codes")
def issue_code() -> Response:
    """Mint a login code without a login page.

    kind "corp" (corp_id, userid, agent_id or suite_id), "suite" (suite_id, corp_id, userid),
    "wechat" (appid, user) or "nonmember" (person, and corp_id or suite_id: a code whose exchange
    answers an openid only); with_ticket adds a user_ticket to the WeCom answers.
    """
    data = _body()
    state = sandbox_state()
    kind = data.get("kind")
    if kind == "corp":
        _pick(data, "kind", "corp_id", "userid", optional=("agent_id", "suite_id", "with_ticket"))
        code = state.issue_corp_code(data["corp_id"], data["userid"], agent_id=data.get("agent_id"),
                                     suite_id=data.get("suite_id"),
                                     with_ticket=bool(data.get("with_ticket")))
    elif kind == "suite":
        _pick(data, "kind", "suite_id", "corp_id", "userid", optional=("with_ticket",))
        code = state.issue_suite_code(data["suite_id"], data["corp_id"], data["userid"],
                                      with_ticket=bool(data.get("with_ticket")))
    elif kind == "wechat":
        _pick(data, "kind", "appid", "user", optional=("scope",))
        code = state.issue_wechat_code(data["appid"], data["user"], scope=data.get("scope", "snsapi_login"))
    elif kind == "nonmember":
        _pick(data, "kind", "person", optional=("corp_id", "suite_id"))
        code = state.issue_nonmember_code(data.get("corp_id"), data["person"], suite_id=data.get("suite_id"))
    else:
        raise SandboxError("kind must be corp, suite, wechat or nonmember")
    return _done(code=code)


@bp.post("/tokens/revoke")
def revoke_tokens() -> Response:
    """Invalidate tokens (optionally of one kind and/or corp) so the next call gets 40014/40082."""
    data = _pick(_body(), optional=("kind", "corp_id"))
    return _done(revoked=sandbox_state().revoke_tokens(data.get("kind"), data.get("corp_id")))


# -- logs and faults --------------------------------------------------------------------------------


@bp.get("/requests")
def request_log() -> Response:
    """Return the request log (?path= an fnmatch pattern)."""
    records = sandbox_state().request_log(request.args.get("path"))
    return _done(requests=[r.to_dict() for r in records])


@bp.delete("/requests")
def clear_request_log() -> Response:
    """Empty the request log."""
    sandbox_state().clear_request_log()
    return _done()


@bp.get("/pushes")
def push_log() -> Response:
    """Return the push log (?event=, ?suite_id=)."""
    records = sandbox_state().push_log(request.args.get("event"), request.args.get("suite_id"))
    return _done(pushes=[p.to_dict() for p in records])


@bp.delete("/pushes")
def clear_push_log() -> Response:
    """Empty the push log."""
    sandbox_state().clear_push_log()
    return _done()


@bp.get("/faults")
def list_faults() -> Response:
    """Return the active faults."""
    return _done(faults=[f.to_dict() for f in sandbox_state().faults()])


@bp.post("/faults")
def add_fault() -> Response:
    """Inject a fault: path and one of errcode, latency, http_status, drop; times (default: always);
    params (query or body values the request must carry)."""
    data = _pick(_body(), "path", optional=("errcode", "latency", "http_status", "drop", "times", "params"))
    fault = sandbox_state().add_fault(data.pop("path"), **data)
    return _done(fault=fault.to_dict())


@bp.delete("/faults")
def clear_faults() -> Response:
    """Remove the faults on ?path= (all without it)."""
    return _done(removed=sandbox_state().clear_faults(request.args.get("path")))
