"""Login pages: WeCom web login, WeChat QR login, WeCom's in-client OAuth, the workbench and the install page.

"Scanning" a QR code is a button: choosing a person redirects (302) to `redirect_uri` with a fresh
single-use code and the `state` that came in, as WeCom and WeChat do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, render_template_string, request
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from jitlite.sandbox._web import sandbox_state
from jitlite.sandbox.errors import ApiError, SandboxError
from jitlite.sandbox.orgdata import Corp
from jitlite.sandbox.state import AUTH_CODE_TTL, SandboxState

__all__ = ["bp"]

bp = Blueprint("sandbox_pages", __name__)

_SHOWN = 200  # people listed on a page; anyone else can be typed in

_LAYOUT = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ title }}</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:46rem;color:#222}
h1{font-size:1.3rem} .note{color:#666;font-size:.9rem} .error{color:#b00020}
form.pick{display:inline} button{margin:.2rem;padding:.4rem .8rem;cursor:pointer}
fieldset{margin:1rem 0;border:1px solid #ddd} footer{margin-top:2rem;color:#999;font-size:.8rem}
</style></head><body><h1>{{ title }}</h1>{{ body }}
<footer>jitlite sandbox — a local emulator; no data leaves this machine.</footer></body></html>"""

_ERROR = """<p class="error">{{ message }}</p>"""

_PEOPLE = """<p class="note">{{ hint }}</p>
{% for group in groups %}<fieldset><legend>{{ group.label }}</legend>
{% for person in group.people %}<form class="pick" method="post">
{% for name, value in group.fields %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<input type="hidden" name="{{ person_field }}" value="{{ person.key }}">
<button type="submit" title="{{ person.key }}">{{ person.label }}</button></form>
{% endfor %}{% if group.more %}<p class="note">…and {{ group.more }} more.</p>{% endif %}
<form method="post">{% for name, value in group.fields %}
<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<input name="{{ person_field }}" placeholder="{{ person_field }}"> <button type="submit">扫码登录</button>
</form></fieldset>{% else %}<p class="error">{{ empty }}</p>{% endfor %}"""

# Someone who is not a member of the corp scans: WeCom answers their code with an openid only.
_GUEST = """<fieldset><legend>非企业成员</legend><form method="post">
<input name="guest" placeholder="任意名字"> <button type="submit">以非成员身份扫码</button></form></fieldset>"""

_CORPS = """<p class="note">选择授权安装 {{ suite }} 的企业：</p>
{% for corp in corps %}<form class="pick" method="post">
<input type="hidden" name="corpid" value="{{ corp.corp_id }}">
<button type="submit">{{ corp.corp_name }} ({{ corp.corp_id }})</button></form>{% endfor %}"""


@dataclass
class _Person:
    key: str
    label: str


@dataclass
class _Group:
    label: str
    people: list[_Person]
    more: int
    fields: list[tuple[str, str]]


class _PageError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@bp.errorhandler(_PageError)
def _page_error(exc: _PageError) -> Response:
    return _page("出错了", render_template_string(_ERROR, message=exc.message), exc.status)


def _page(title: str, body: str, status: int = 200) -> Response:
    html = render_template_string(_LAYOUT, title=title, body=Markup(body))
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _param(name: str) -> str | None:
    # Query parameters carry the login request; the form carries the person chosen.
    value = request.values.get(name)
    return value or None


def _redirect_uri() -> str:
    uri = _param("redirect_uri")
    if uri is None:
        raise _PageError("redirect_uri is required")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _PageError(f"redirect_uri must be an http(s) URL, got {uri!r}")
    return uri


def _redirect(uri: str, **params: str | None) -> BaseResponse:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return redirect(urlunsplit(parts._replace(query=urlencode(query))), code=302)


def _members_group(corp: Corp, allow_party: Sequence[int] | None, allow_user: Sequence[str],
                   fields: list[tuple[str, str]], label: str) -> _Group | None:
    """Return the people an app's visible range lets log in (None if nobody)."""
    people: list[_Person] = []
    total = 0
    for member in corp.iter_scoped_members(corp.scope(allow_party), allow_user):
        total += 1
        if total <= _SHOWN:
            people.append(_Person(member.userid, f"{member.name} · {member.position or member.userid}"))
    return _Group(label, people, total - len(people), fields) if total else None


def _corp_app(state: SandboxState, corp_id: str,
              agent_id: int) -> tuple[str | None, Sequence[int] | None, Sequence[str]]:
    """Return the 代开发 suite behind an agent (None for a self-built app) and its visible range."""
    if corp_id not in state.org.corps:
        raise _PageError(f"appid {corp_id!r} is not a corp in the sandbox")
    app = state.apps.get((corp_id, agent_id))
    if app is not None:
        return None, app.allow_party, app.allow_user
    for (suite_id, auth_corp), auth in state.authorizations.items():
        if auth_corp == corp_id and auth.active and auth.agent_id == agent_id:
            return suite_id, auth.allow_party, auth.allow_user
    raise _PageError(f"corp {corp_id} has no app with agentid {agent_id}")


@bp.route("/wwlogin/sso/login", methods=["GET", "POST"])
def wwlogin() -> BaseResponse:
    """Show WeCom web login (CorpApp or ServiceApp) and redirect with a code once someone scans."""
    state = sandbox_state()
    redirect_uri = _redirect_uri()
    login_type = _param("login_type") or "CorpApp"
    appid = _param("appid")
    if appid is None:
        raise _PageError("appid is required")
    with state.lock:
        if login_type == "CorpApp":
            agent_text = _param("agentid")
            if agent_text is None or not agent_text.isdigit():
                raise _PageError("agentid is required for login_type=CorpApp")
            suite_id, allow_party, allow_user = _corp_app(state, appid, int(agent_text))
            if request.method == "POST":
                try:
                    guest = _param("guest")
                    # A member must be in the app's visible range; anyone else scans as a non-member.
                    code = (state.issue_nonmember_code(appid, guest) if guest is not None else
                            state.issue_corp_code(appid, _param("userid") or "", suite_id=suite_id,
                                                  agent_id=None if suite_id else int(agent_text)))
                except SandboxError as exc:
                    raise _PageError(str(exc)) from exc
                return _redirect(redirect_uri, code=code, state=_param("state"))
            corp = state.org.corps[appid]
            groups = [_members_group(corp, allow_party, allow_user, [], corp.corp_name)]
        elif login_type == "ServiceApp":
            if appid not in state.suites:
                raise _PageError(f"appid {appid!r} is not a registered suite")
            corps = [state.org.corps[corp_id] for (suite_id, corp_id), auth in state.authorizations.items()
                     if suite_id == appid and auth.active]
            if request.method == "POST":
                corp_id, userid, guest = _param("corpid") or "", _param("userid") or "", _param("guest")
                try:
                    code = (state.issue_nonmember_code(None, guest, suite_id=appid) if guest is not None else
                            state.issue_suite_code(appid, corp_id, userid))
                except SandboxError as exc:
                    raise _PageError(str(exc)) from exc
                return _redirect(redirect_uri, code=code, state=_param("state"), appid=appid)
            groups = []
            for corp in corps:
                auth = state.authorizations[(appid, corp.corp_id)]
                groups.append(_members_group(corp, auth.allow_party, auth.allow_user,
                                             [("corpid", corp.corp_id)], f"{corp.corp_name} ({corp.corp_id})"))
        else:
            raise _PageError(f"login_type must be CorpApp or ServiceApp, got {login_type!r}")
    body = render_template_string(_PEOPLE, groups=[g for g in groups if g], person_field="userid",
                                  hint="用企业微信扫码登录：选择扫码的成员。",
                                  empty="没有可以登录这个应用的成员。") + _GUEST
    return _page("企业微信登录（沙盒）", body)


@bp.route("/connect/qrconnect", methods=["GET", "POST"])
def qrconnect() -> BaseResponse:
    """Show WeChat website QR login and redirect with a code once someone scans."""
    state = sandbox_state()
    redirect_uri = _redirect_uri()
    appid = _param("appid")
    if appid is None or appid not in state.wechat_apps:
        raise _PageError(f"appid {appid!r} is not a registered WeChat app")
    if _param("response_type") != "code":
        raise _PageError("response_type must be code")
    if "snsapi_login" not in (_param("scope") or "").split(","):
        raise _PageError("scope must include snsapi_login")
    if request.method == "POST":
        try:
            code = state.issue_wechat_code(appid, _param("user") or "")
        except SandboxError as exc:
            raise _PageError(str(exc)) from exc
        return _redirect(redirect_uri, code=code, state=_param("state"))
    with state.lock:
        users = list(state.org.wechat_users.values())
    group = _Group(state.wechat_apps[appid].name, [_Person(u.key, u.nickname) for u in users[:_SHOWN]],
                   max(0, len(users) - _SHOWN), [])
    body = render_template_string(_PEOPLE, groups=[group] if users else [], person_field="user",
                                  hint="微信扫码登录：选择扫码的微信用户。", empty="沙盒里没有微信用户。")
    return _page("微信登录（沙盒）", body)


@bp.route("/connect/oauth2/authorize", methods=["GET", "POST"])
def oauth2_authorize() -> BaseResponse:
    """WeCom's OAuth inside the WeCom client (the workbench): redirect with a code for the member using it.

    Inside the real client this redirects at once; here the page asks which member is "using the
    client". ``scope=snsapi_privateinfo`` adds a user_ticket to the code (it needs ``agentid``).
    """
    state = sandbox_state()
    redirect_uri = _redirect_uri()
    appid = _param("appid")
    if appid is None:
        raise _PageError("appid is required: the corp id")
    if _param("response_type") != "code":
        raise _PageError("response_type must be code")
    scope = _param("scope") or "snsapi_base"
    if scope not in ("snsapi_base", "snsapi_privateinfo"):
        raise _PageError("scope must be snsapi_base or snsapi_privateinfo")
    agent_text = _param("agentid")
    if agent_text is not None and not agent_text.isdigit():
        raise _PageError("agentid must be the app's AgentId")
    if scope == "snsapi_privateinfo" and agent_text is None:
        raise _PageError("snsapi_privateinfo needs agentid")
    with state.lock:
        if agent_text is not None:
            suite_id, allow_party, allow_user = _corp_app(state, appid, int(agent_text))
        elif appid in state.org.corps:
            suite_id, allow_party, allow_user = None, None, ()
        else:
            raise _PageError(f"appid {appid!r} is not a corp in the sandbox")
        if request.method == "POST":
            try:
                code = state.issue_corp_code(
                    appid, _param("userid") or "", suite_id=suite_id,
                    agent_id=None if suite_id or agent_text is None else int(agent_text),
                    with_ticket=scope == "snsapi_privateinfo")
            except SandboxError as exc:
                raise _PageError(str(exc)) from exc
            return _redirect(redirect_uri, code=code, state=_param("state"))
        corp = state.org.corps[appid]
        groups = [_members_group(corp, allow_party, allow_user, [], corp.corp_name)]
    body = render_template_string(_PEOPLE, groups=[g for g in groups if g], person_field="userid",
                                  hint="企业微信客户端内打开应用（工作台）：选择正在使用客户端的成员。",
                                  empty="没有可以打开这个应用的成员。")
    return _page("企业微信工作台（沙盒）", body)


@bp.route("/sandbox/workbench", methods=["GET"])
def workbench() -> BaseResponse:
    """Open an app from the WeCom workbench: redirect at once with a code for `user`.

    Query: corp, user, and suite (an authorised suite) or agent (a self-built app); redirect_uri
    (default: the app's home_url), state, scope (snsapi_privateinfo, the default, adds a
    user_ticket; snsapi_base does not).
    """
    state = sandbox_state()
    corp_id, userid = _param("corp"), _param("user")
    suite_id, agent_text = _param("suite"), _param("agent")
    if corp_id is None or userid is None or (suite_id is None) == (agent_text is None):
        raise _PageError("give corp, user and exactly one of suite or agent")
    with_ticket = (_param("scope") or "snsapi_privateinfo") != "snsapi_base"
    try:
        with state.lock:
            if suite_id is not None:
                suite = state.suite(suite_id)
                home = suite.home_url
                if suite.kind == "customized":
                    code = state.issue_corp_code(corp_id, userid, suite_id=suite_id, with_ticket=with_ticket)
                else:
                    code = state.issue_suite_code(suite_id, corp_id, userid, with_ticket=with_ticket)
            else:
                if agent_text is None or not agent_text.isdigit():
                    raise _PageError("agent must be an agent id")
                app = state.apps.get((corp_id, int(agent_text)))
                if app is None:
                    raise _PageError(f"corp {corp_id} has no self-built app {agent_text}")
                home = app.home_url
                code = state.issue_corp_code(corp_id, userid, agent_id=app.agent_id, with_ticket=with_ticket)
    except SandboxError as exc:
        raise _PageError(str(exc), 403) from exc
    if _param("redirect_uri") is None:
        if home is None:
            raise _PageError("give redirect_uri, or register the app with a home_url")
        return _redirect(home, code=code, state=_param("state"))
    return _redirect(_redirect_uri(), code=code, state=_param("state"))


@bp.route("/3rdapp/install", methods=["GET", "POST"])
def install() -> BaseResponse:
    """Show the install page for a pre_auth_code; choosing a corp authorises the suite there."""
    state = sandbox_state()
    redirect_uri = _redirect_uri()
    suite_id = _param("suite_id")
    try:
        code = state.check_pre_auth_code(_param("pre_auth_code"), suite_id)
    except ApiError as exc:
        raise _PageError(f"pre_auth_code: {exc.errmsg}") from exc
    if request.method == "POST":
        try:
            auth_code = state.install(code.value, _param("corpid") or "")
        except SandboxError as exc:
            raise _PageError(str(exc)) from exc
        return _redirect(redirect_uri, auth_code=auth_code.value, expires_in=str(AUTH_CODE_TTL),
                         state=_param("state"))
    with state.lock:
        corps = list(state.org.corps.values())
        suite = state.suites[code.suite_id]
    return _page("安装应用（沙盒）", render_template_string(_CORPS, corps=corps, suite=suite.name))
