"""The WeCom server API under /cgi-bin/: tokens, identity, contacts and the service (provider) API.

Shapes and errcodes follow developer.work.weixin.qq.com; each view names its document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import Any

from flask import Blueprint, Response

from jitlite.sandbox._web import api_route, arg, json_body, ok, ok_encoded, sandbox_state
from jitlite.sandbox.errors import ApiError
from jitlite.sandbox.models import Authorization, IssuedToken, LoginCode, Suite
from jitlite.sandbox.orgdata import Corp, Department, Member
from jitlite.sandbox.state import PRE_AUTH_CODE_TTL, CorpView, SandboxState

__all__ = ["bp"]

bp = Blueprint("sandbox_wecom", __name__, url_prefix="/cgi-bin")

_LIST_ID_MAX = 10_000
# Fields third-party apps no longer receive since 2022 (their `name` becomes the userid).
_HIDDEN_FROM_THIRD_PARTY = ("mobile", "email", "biz_mail", "avatar", "thumb_avatar", "telephone",
                            "address", "qr_code", "gender")


# -- helpers ---------------------------------------------------------------------------------------


def _corp_access() -> tuple[SandboxState, IssuedToken, CorpView]:
    state = sandbox_state()
    token = state.check_token(arg("access_token"), "corp")
    return state, token, state.corp_view(token)


def _suite_access() -> tuple[SandboxState, Suite]:
    state = sandbox_state()
    token = state.check_token(arg("suite_access_token"), "suite")
    return state, state.suites[token.app[1]]


def _optional_int(name: str) -> int | None:
    value = arg(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(40058, f"{name} must be an integer") from None


def _required_int(name: str, missing: int) -> int:
    value = _optional_int(name)
    if value is None:
        raise ApiError(missing)
    return value


def _member_json(view: CorpView, member: Member, owner: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "userid": member.userid,
        "name": member.name,
        "department": list(member.department),
        "order": list(member.order),
        "position": member.position,
        "mobile": member.mobile,
        "gender": str(member.gender),
        "email": member.email,
        "biz_mail": member.biz_mail,
        "is_leader_in_dept": list(member.is_leader_in_dept),
        "direct_leader": list(member.direct_leader),
        "avatar": member.avatar,
        # WeCom avatar URLs end in /0 (full size); /100 is the thumbnail.
        "thumb_avatar": member.avatar[:-2] + "/100" if member.avatar.endswith("/0") else member.avatar,
        "telephone": member.telephone,
        "alias": member.alias,
        "address": member.address,
        "main_department": member.main_department,
        "status": member.status,
        "qr_code": f"https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=sandbox-{member.userid}",
        "extattr": {"attrs": []},
        "external_position": "",
    }
    if view.third_party:
        data["name"] = member.userid
        for key in _HIDDEN_FROM_THIRD_PARTY:
            data.pop(key, None)
    if owner is not None:
        data["open_userid"] = SandboxState.open_userid(owner, view.corp.corp_id, member.userid)
    return data


def _department_json(corp: Corp, dept: Department) -> dict[str, Any]:
    return {"id": dept.id, "name": dept.name, "name_en": dept.name_en,
            "department_leader": corp.leaders(dept.id), "parentid": dept.parentid, "order": dept.order}


def _visible_departments(view: CorpView, dept_id: int | None) -> list[Department]:
    corp = view.corp
    if dept_id is not None:
        corp.get_department(dept_id)
        if not view.sees_department(dept_id):
            raise ApiError(60011, f"department {dept_id}")
        start = dept_id
    else:
        start = corp.root_id
    return [corp.departments[d] for d in corp.subtree(start) if view.sees_department(d)]


def _members_of(view: CorpView) -> list[Member]:
    dept_id = _required_int("department_id", 41019)
    corp = view.corp
    corp.get_department(dept_id)
    if not view.sees_department(dept_id):
        raise ApiError(60011, f"department {dept_id}")
    depts = corp.subtree(dept_id) if arg("fetch_child") == "1" else [dept_id]
    return corp.members_in(d for d in depts if view.sees_department(d))


def _auth_corp_info(corp: Corp) -> dict[str, Any]:
    return {
        "corpid": corp.corp_id,
        "corp_name": corp.corp_name,
        "corp_type": "verified",
        "corp_square_logo_url": f"https://sandbox.invalid/logo/{corp.corp_id}",
        "corp_user_max": max(200, len(corp.members)),
        "corp_full_name": corp.corp_full_name,
        "verified_end_time": 4102444800,
        "subject_type": 1,
        "corp_wxqrcode": f"https://sandbox.invalid/qrcode/{corp.corp_id}",
        "corp_scale": _corp_scale(len(corp.members)),
        "corp_industry": "IT服务",
        "corp_sub_industry": "计算机软件/硬件/信息服务",
    }


def _corp_scale(members: int) -> str:
    for limit, label in ((50, "1-50人"), (200, "51-200人"), (500, "201-500人"), (1000, "501-1000人")):
        if members <= limit:
            return label
    return "1000人以上"


def _auth_info(suite: Suite, auth: Authorization) -> dict[str, Any]:
    return {"agent": [{
        "agentid": auth.agent_id,
        "name": suite.name,
        "round_logo_url": f"https://sandbox.invalid/logo/{suite.suite_id}/round",
        "square_logo_url": f"https://sandbox.invalid/logo/{suite.suite_id}",
        "appid": 1,
        "auth_mode": 0,
        "is_customized_app": suite.kind == "customized",
        "auth_from_thirdapp": False,
        "privilege": {
            "level": 1,
            "allow_party": [1] if auth.allow_party is None else list(auth.allow_party),
            "allow_user": list(auth.allow_user),
            "allow_tag": [],
            "extra_party": [],
            "extra_user": [],
            "extra_tag": [],
        },
    }]}


def _auth_user_info(state: SandboxState, suite: Suite, auth: Authorization) -> dict[str, Any]:
    corp = state.org.corps[auth.corp_id]
    member = corp.members.get(auth.admin_userid)
    if member is None:
        return {}
    return {"userid": member.userid,
            "open_userid": state.open_userid(state.open_id_owner(suite), corp.corp_id, member.userid),
            "name": member.name, "avatar": member.avatar}


# -- access tokens ---------------------------------------------------------------------------------


@api_route(bp, "/gettoken", "GET")
def gettoken() -> Response:
    """Return a corp access_token for a self-built app's secret or a 代开发 permanent code.

    https://developer.work.weixin.qq.com/document/path/91039
    """
    state = sandbox_state()
    corp_id, secret = arg("corpid"), arg("corpsecret")
    if corp_id is None:
        raise ApiError(41002)
    if secret is None:
        raise ApiError(41004)
    with state.lock:
        if corp_id not in state.org.corps:
            raise ApiError(40013)
        app_key: tuple[Any, ...] | None = None
        for (app_corp, agent_id), app in state.apps.items():
            if app_corp == corp_id and app.secret == secret:
                app_key = ("agent", corp_id, agent_id)
                break
        else:
            for (suite_id, auth_corp), auth in state.authorizations.items():
                if (auth_corp == corp_id and auth.active and auth.permanent_code == secret
                        and state.suites[suite_id].kind == "customized"):
                    app_key = ("auth", suite_id, corp_id)
                    break
        if app_key is None:
            raise ApiError(40001)
        token = state.issue_token("corp", app_key, corp_id)
        return ok(access_token=token.value, expires_in=state.expires_in(token))


# -- identity --------------------------------------------------------------------------------------


@api_route(bp, "/auth/getuserinfo", "GET")
def auth_getuserinfo() -> Response:
    """Return the userid (and user_ticket) behind a login code.

    https://developer.work.weixin.qq.com/document/path/91023
    """
    state, token, _ = _corp_access()
    code = state.take_login_code(arg("code"), "corp", lambda c: c.corp_id == token.corp_id)
    if not code.member:  # not a member of the corp: an openid (per corp) and no userid
        return ok(openid=state.openid(token.corp_id, code.userid))
    data: dict[str, Any] = {"userid": code.userid}
    if code.with_ticket:
        ticket = state.issue_user_ticket("corp", token.corp_id, token.corp_id, code.userid)
        data.update(user_ticket=ticket.value, expires_in=state.expires_in_of(ticket.expires_at))
    return ok(**data)


@api_route(bp, "/auth/getuserdetail", "POST")
def auth_getuserdetail() -> Response:
    """Return a member's sensitive details for a user_ticket.

    https://developer.work.weixin.qq.com/document/path/95833
    """
    state, token, view = _corp_access()
    ticket = state.check_user_ticket(json_body().get("user_ticket"), "corp", token.corp_id)
    member = view.corp.get_member(ticket.userid)
    return ok(userid=member.userid, gender=str(member.gender), avatar=member.avatar,
              qr_code=f"https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=sandbox-{member.userid}",
              mobile=member.mobile, email=member.email, biz_mail=member.biz_mail, address=member.address)


# -- contacts --------------------------------------------------------------------------------------


@api_route(bp, "/user/get", "GET")
def user_get() -> Response:
    """Return one member.

    https://developer.work.weixin.qq.com/document/path/90196
    """
    state, _, view = _corp_access()
    userid = arg("userid")
    if userid is None:
        raise ApiError(41009)
    with state.lock:
        member = view.corp.get_member(userid)
        if not view.sees_member(member):
            raise ApiError(60011, f"userid {userid}")
        return ok(**_member_json(view, member, view.open_id_owner))


@api_route(bp, "/user/list", "GET")
def user_list() -> Response:
    """Return the members of a department, with details.

    https://developer.work.weixin.qq.com/document/path/90201
    """
    state, _, view = _corp_access()
    key = (view.third_party, view.open_id_owner)
    owner = view.open_id_owner

    def encode(member: Member) -> str:
        return json.dumps(_member_json(view, member, owner), ensure_ascii=False)

    with state.lock:
        members = _members_of(view)
        texts = [view.corp.encoded_member(m, key, encode) for m in members]
    return ok_encoded(userlist="[" + ",".join(texts) + "]")


@api_route(bp, "/user/simplelist", "GET")
def user_simplelist() -> Response:
    """Return the members of a department: userid, name, departments.

    https://developer.work.weixin.qq.com/document/path/90200
    """
    state, _, view = _corp_access()
    with state.lock:
        members = _members_of(view)
        userlist = []
        for member in members:
            item: dict[str, Any] = {"userid": member.userid,
                                    "name": member.userid if view.third_party else member.name,
                                    "department": list(member.department)}
            if view.open_id_owner is not None:
                item["open_userid"] = state.open_userid(view.open_id_owner, view.corp.corp_id,
                                                        member.userid)
            userlist.append(item)
        return ok(userlist=userlist)


@api_route(bp, "/user/list_id", "POST")
def user_list_id() -> Response:
    """Return a page of (member, department) pairs; `next_cursor` is empty on the last page.

    https://developer.work.weixin.qq.com/document/path/96067
    """
    state, _, view = _corp_access()
    body = json_body()
    limit = body.get("limit", _LIST_ID_MAX)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _LIST_ID_MAX:
        raise ApiError(40058, f"limit must be an integer from 1 to {_LIST_ID_MAX}")
    cursor = body.get("cursor") or ""
    if not isinstance(cursor, str):
        raise ApiError(40058, "invalid cursor")
    with state.lock:
        corp_id = view.corp.corp_id
        offset = state.decode_cursor(cursor, corp_id) if cursor else 0
        page = list(islice(_dept_user_pairs(view), offset, offset + limit + 1))
        more = len(page) > limit
        key = "open_userid" if view.third_party else "userid"
        dept_user = [{key: ident, "department": dept} for ident, dept in page[:limit]]
        next_cursor = state.encode_cursor(corp_id, offset + limit) if more else ""
        return ok(next_cursor=next_cursor, dept_user=dept_user)


def _dept_user_pairs(view: CorpView) -> Iterator[tuple[str, int]]:
    corp = view.corp
    for member in corp.iter_scoped_members(view.scope, view.allow_user):
        ident = member.userid
        if view.third_party and view.open_id_owner is not None:
            ident = SandboxState.open_userid(view.open_id_owner, corp.corp_id, member.userid)
        depts = member.department
        if view.scope is not None:
            # A member visible through allow_user alone keeps its departments.
            depts = [d for d in depts if d in view.scope] or depts
        for dept_id in depts:
            yield ident, dept_id


@api_route(bp, "/department/list", "GET")
def department_list() -> Response:
    """Return a department and everything below it (all visible departments without `id`).

    https://developer.work.weixin.qq.com/document/path/90208
    """
    state, _, view = _corp_access()
    dept_id = _optional_int("id")
    with state.lock:
        depts = _visible_departments(view, dept_id)
        return ok(department=[_department_json(view.corp, d) for d in depts])


@api_route(bp, "/department/simplelist", "GET")
def department_simplelist() -> Response:
    """Return department ids with their parents and order.

    https://developer.work.weixin.qq.com/document/path/95350
    """
    state, _, view = _corp_access()
    dept_id = _optional_int("id")
    with state.lock:
        depts = _visible_departments(view, dept_id)
        return ok(department_id=[{"id": d.id, "parentid": d.parentid, "order": d.order} for d in depts])


@api_route(bp, "/department/get", "GET")
def department_get() -> Response:
    """Return one department.

    https://developer.work.weixin.qq.com/document/path/95351
    """
    state, _, view = _corp_access()
    dept_id = _required_int("id", 41019)
    with state.lock:
        dept = view.corp.get_department(dept_id)
        if not view.sees_department(dept_id):
            raise ApiError(60011, f"department {dept_id}")
        return ok(department=_department_json(view.corp, dept))


# -- service (provider) API ----------------------------------------------------------------------


@api_route(bp, "/service/get_suite_token", "POST")
def get_suite_token() -> Response:
    """Return a suite_access_token for the suite id, secret and a current suite_ticket.

    https://developer.work.weixin.qq.com/document/path/90600
    """
    state = sandbox_state()
    body = json_body()
    suite_id, secret, ticket = body.get("suite_id"), body.get("suite_secret"), body.get("suite_ticket")
    if not suite_id:
        raise ApiError(41021)
    if not secret:
        raise ApiError(41024)
    if not ticket:
        raise ApiError(41023)
    with state.lock:
        suite = state.suites.get(str(suite_id))
        if suite is None:
            raise ApiError(40083)
        if suite.secret != secret:
            raise ApiError(40080)
        state.check_suite_ticket(suite.suite_id, str(ticket))
        token = state.issue_token("suite", ("suite", suite.suite_id))
        return ok(suite_access_token=token.value, expires_in=state.expires_in(token))


@api_route(bp, "/service/get_provider_token", "POST")
def get_provider_token() -> Response:
    """Return a provider_access_token for the provider corp id and secret.

    https://developer.work.weixin.qq.com/document/path/91200
    """
    state = sandbox_state()
    body = json_body()
    corp_id, secret = body.get("corpid"), body.get("provider_secret")
    if not corp_id:
        raise ApiError(41002)
    if not secret:
        raise ApiError(41004)
    with state.lock:
        provider = state.providers.get(str(corp_id))
        if provider is None:
            raise ApiError(40013)
        if provider.secret != secret:
            raise ApiError(40001)
        token = state.issue_token("provider", ("provider", provider.corp_id), provider.corp_id)
        return ok(provider_access_token=token.value, expires_in=state.expires_in(token))


@api_route(bp, "/service/get_pre_auth_code", "GET")
def get_pre_auth_code() -> Response:
    """Return a pre_auth_code for the install link.

    https://developer.work.weixin.qq.com/document/path/90601
    """
    state, suite = _suite_access()
    code = state.issue_pre_auth_code(suite.suite_id)
    return ok(pre_auth_code=code.value, expires_in=state.expires_in_of(code.issued_at + PRE_AUTH_CODE_TTL))


@api_route(bp, "/service/set_session_info", "POST")
def set_session_info() -> Response:
    """Attach session_info (auth_type, appid) to a pre_auth_code.

    https://developer.work.weixin.qq.com/document/path/90602
    """
    state, suite = _suite_access()
    body = json_body()
    session_info = body.get("session_info") or {}
    if not isinstance(session_info, dict):
        raise ApiError(40058, "session_info must be an object")
    with state.lock:
        code = state.check_pre_auth_code(body.get("pre_auth_code"), suite.suite_id)
        code.session_info = dict(session_info)
    return ok()


def _permanent_code(v2: bool) -> Response:
    state, suite = _suite_access()
    with state.lock:
        auth = state.take_auth_code(json_body().get("auth_code"), suite.suite_id)
        corp = state.org.corps[auth.corp_id]
        user_info = _auth_user_info(state, suite, auth)
        if v2:
            data: dict[str, Any] = {"permanent_code": auth.permanent_code,
                                    "auth_corp_info": {"corpid": corp.corp_id, "corp_name": corp.corp_name},
                                    "auth_user_info": user_info}
            if auth.state:
                data["state"] = auth.state
            return ok(**data)
        token = state.issue_token("corp", ("auth", suite.suite_id, corp.corp_id), corp.corp_id)
        return ok(access_token=token.value, expires_in=state.expires_in(token),
                  permanent_code=auth.permanent_code, auth_corp_info=_auth_corp_info(corp),
                  auth_info=_auth_info(suite, auth), auth_user_info=user_info)


@api_route(bp, "/service/get_permanent_code", "POST")
def get_permanent_code() -> Response:
    """Exchange an AuthCode for the permanent code, corp info, auth info and a corp token.

    https://developer.work.weixin.qq.com/document/path/90603
    """
    return _permanent_code(v2=False)


@api_route(bp, "/service/v2/get_permanent_code", "POST")
def get_permanent_code_v2() -> Response:
    """Exchange an AuthCode for the permanent code and brief corp info.

    https://developer.work.weixin.qq.com/document/path/100776
    """
    return _permanent_code(v2=True)


def _auth_info_view() -> Response:
    state, suite = _suite_access()
    body = json_body()
    with state.lock:
        auth = state.find_authorization(suite.suite_id, body.get("auth_corpid"), body.get("permanent_code"))
        corp = state.org.corps[auth.corp_id]
        return ok(auth_corp_info=_auth_corp_info(corp), auth_info=_auth_info(suite, auth))


@api_route(bp, "/service/get_auth_info", "POST")
def get_auth_info() -> Response:
    """Return an authorised corp's info and what the suite may see there.

    https://developer.work.weixin.qq.com/document/path/90604
    """
    return _auth_info_view()


@api_route(bp, "/service/v2/get_auth_info", "POST")
def get_auth_info_v2() -> Response:
    """Return an authorised corp's info and what the suite may see there (v2).

    https://developer.work.weixin.qq.com/document/path/100795
    """
    return _auth_info_view()


@api_route(bp, "/service/get_corp_token", "POST")
def get_corp_token() -> Response:
    """Return a corp access_token of an authorised corp for the suite.

    https://developer.work.weixin.qq.com/document/path/90605
    """
    state, suite = _suite_access()
    body = json_body()
    with state.lock:
        auth = state.find_authorization(suite.suite_id, body.get("auth_corpid"), body.get("permanent_code"))
        token = state.issue_token("corp", ("auth", suite.suite_id, auth.corp_id), auth.corp_id)
        return ok(access_token=token.value, expires_in=state.expires_in(token))


@api_route(bp, "/service/auth/getuserinfo3rd", "GET")
def getuserinfo3rd() -> Response:
    """Return the corp, userid and open_userid behind a suite's login code.

    https://developer.work.weixin.qq.com/document/path/91121
    """
    state, suite = _suite_access()
    code = state.take_login_code(arg("code"), "suite", lambda c: c.app_id == suite.suite_id)
    if not code.member:  # not a member of any authorising corp: an openid only
        return ok(openid=state.openid(suite.suite_id, code.userid))
    data: dict[str, Any] = {
        "corpid": code.corp_id,
        "userid": code.userid,
        "open_userid": state.open_userid(state.open_id_owner(suite), code.corp_id, code.userid),
    }
    if code.with_ticket:
        ticket = state.issue_user_ticket("suite", suite.suite_id, code.corp_id, code.userid)
        data.update(user_ticket=ticket.value, expires_in=state.expires_in_of(ticket.expires_at))
    return ok(**data)


@api_route(bp, "/service/auth/getuserdetail3rd", "POST")
def getuserdetail3rd() -> Response:
    """Return a member's details for a suite's user_ticket.

    https://developer.work.weixin.qq.com/document/path/91122
    """
    state, suite = _suite_access()
    ticket = state.check_user_ticket(json_body().get("user_ticket"), "suite", suite.suite_id)
    with state.lock:
        member = state.org.corps[ticket.corp_id].get_member(ticket.userid)
        # Third-party apps see the userid in place of the name since 2020.
        name = member.userid if suite.kind == "third_party" else member.name
        return ok(corpid=ticket.corp_id, userid=member.userid, name=name, gender=str(member.gender),
                  avatar=member.avatar,
                  qr_code=f"https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=sandbox-{member.userid}")


@api_route(bp, "/service/get_login_info", "POST")
def get_login_info() -> Response:
    """Return who logged in to the provider's website through ServiceApp web login.

    https://developer.work.weixin.qq.com/document/path/91125
    """
    state = sandbox_state()
    token = state.check_token(arg("access_token"), "provider")
    provider_id = token.app[1]

    def from_provider(code: LoginCode) -> bool:
        suite = state.suites.get(code.app_id)
        return suite is not None and suite.provider_corp_id == provider_id

    code = state.take_login_code(json_body().get("auth_code"), "suite", from_provider)
    if not code.member:
        raise ApiError(40029, "the auth_code was not issued to a member")
    with state.lock:
        corp = state.org.corps[code.corp_id]
        member = corp.get_member(code.userid)
        agents = [{"agentid": auth.agent_id, "auth_type": 1}
                  for (suite_id, corp_id), auth in state.authorizations.items()
                  if corp_id == corp.corp_id and auth.active
                  and state.suites[suite_id].provider_corp_id == provider_id]
        return ok(
            usertype=2 if member.admin else 5,
            user_info={"userid": member.userid,
                       "open_userid": state.open_userid(provider_id, corp.corp_id, member.userid),
                       "name": member.name, "avatar": member.avatar},
            corp_info={"corpid": corp.corp_id},
            agent=agents,
            auth_info={"department": [{"id": dept_id, "writable": member.admin}
                                      for dept_id in member.department]},
        )
