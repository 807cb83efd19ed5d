"""The OAuth round trip in a browser (Flask's test client keeps the cookies): state cookie, session cookie, next."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jitlite
from jitlite.meta.auths import WECOM, Identity
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.orgdata import Corp as SandboxCorp
from jitlite.sandbox.orgdata import Department, Member
from jitlite.sandbox.testing import Sandbox
from jitlite.web import SESSION_COOKIE, create_web_app

from .conftest import (
    AUTH_SERVICE,
    CORP,
    INNER,
    PROXY,
    SERVICE,
    WECHAT,
    browser_login,
    through_provider,
)

STATE_COOKIE = "jitlite_login_state"


def page_error(response: TestResponse, status: int) -> str:
    """Assert an HTML error page with this status and a request id; return its text."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert response.headers["X-Request-Id"] in text
    return text


def session_of(web: FlaskClient, demo: jitlite.App) -> dict[str, object]:
    cookie = web.get_cookie(SESSION_COOKIE)
    assert cookie is not None, "no session cookie"
    return dict(demo.getElement(AUTH_SERVICE).getSession(cookie.value))


def test_qr_round_trip_sets_a_state_cookie_then_a_session_cookie_and_goes_to_next(
        web: FlaskClient, demo: jitlite.App, sandbox: Sandbox) -> None:
    start = web.get(f"/login/{PROXY}", query_string={"next": "/me?tab=org"})
    assert start.status_code == 302 and start.headers["Cache-Control"] == "no-store"
    target = urlsplit(start.headers["Location"])
    query = parse_qs(target.query)
    assert target.path == "/wwlogin/sso/login" and query["login_type"] == ["CorpApp"] and query["appid"] == [CORP]
    assert query["redirect_uri"] == [f"http://localhost/login/{PROXY}/callback"]
    state_cookie = web.get_cookie(STATE_COOKIE, path="/login/")
    assert state_cookie is not None and state_cookie.value == query["state"][0]
    assert state_cookie.http_only and state_cookie.same_site == "Lax" and not state_cookie.secure

    done = through_provider(web, sandbox, start, {"userid": "wangfang"})
    assert done.status_code == 302 and done.headers["Location"] == "/me?tab=org"
    session_cookie = web.get_cookie(SESSION_COOKIE)
    assert session_cookie is not None and session_cookie.http_only and session_cookie.same_site == "Lax"
    assert web.get_cookie(STATE_COOKIE, path="/login/") is None  # spent and cleared
    session = session_of(web, demo)
    assert session["corpId"] == CORP and session["platform"] == "web"
    page = web.get("/me")
    assert page.status_code == 200 and "王芳" in page.get_data(as_text=True)


def test_cookies_are_secure_over_https(demo: jitlite.App, sandbox: Sandbox) -> None:
    web = create_web_app(demo).test_client()
    start = web.get(f"/login/{PROXY}", base_url="https://app.example")
    assert start.status_code == 302
    assert "redirect_uri=https%3A%2F%2Fapp.example%2Flogin" in start.headers["Location"]
    cookie = web.get_cookie(STATE_COOKIE, domain="app.example", path="/login/")
    assert cookie is not None and cookie.secure and cookie.http_only


def test_a_callback_without_this_browsers_state_cookie_is_refused(web: FlaskClient, demo: jitlite.App,
                                                                  sandbox: Sandbox) -> None:
    start = web.get(f"/login/{PROXY}")
    with sandbox.client() as browser:
        back = urlsplit(browser.post(start.headers["Location"], data={"userid": "wangfang"}).headers["location"])
    callback = f"{back.path}?{back.query}"
    # Another browser (no cookie) bringing this code and state: refused.
    stranger = create_web_app(demo).test_client()
    assert "not started in this browser" in page_error(stranger.get(callback), 400)
    # A mismatched cookie: refused, and the real state is not spent by the attempt.
    stranger.set_cookie(STATE_COOKIE, "0" * 48, path="/login/")
    page_error(stranger.get(callback), 400)
    assert web.get(callback).status_code == 302
    assert web.get_cookie(SESSION_COOKIE) is not None
    # The state is single use: the same redirect again is refused, even with the cookie set again.
    web.set_cookie(STATE_COOKIE, parse_qs(back.query)["state"][0], path="/login/")
    page_error(web.get(callback), 400)


def test_a_state_from_the_cookie_must_also_be_one_the_element_issued(web: FlaskClient, sandbox: Sandbox) -> None:
    web.set_cookie(STATE_COOKIE, "a" * 48, path="/login/")
    page_error(web.get(f"/login/{PROXY}/callback", query_string={"code": "c", "state": "a" * 48}), 400)


@pytest.mark.parametrize("next_url", [
    "https://evil.example/x", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
    "http://localhost.evil.example/", "me", "/me\r\nSet-Cookie: a=b", "ftp://localhost/x", "/" + "x" * 3000,
])
def test_next_to_another_site_is_refused(web: FlaskClient, next_url: str) -> None:
    assert "next must be" in page_error(web.get(f"/login/{PROXY}", query_string={"next": next_url}), 400)
    assert web.get_cookie(STATE_COOKIE, path="/login/") is None


def test_next_on_this_site_as_an_absolute_url_becomes_a_path(web: FlaskClient, sandbox: Sandbox) -> None:
    done = browser_login(web, sandbox, next="http://localhost/me?x=1")
    assert done.status_code == 302 and done.headers["Location"] == "/me?x=1"


def test_unknown_or_disabled_login_elements_and_a_cancelled_login(web: FlaskClient, sandbox: Sandbox) -> None:
    for name in ("auths.Nope", "auths.services.AuthService", "caches.Default"):
        page_error(web.get(f"/login/{name}"), 404)
        page_error(web.get(f"/login/{name}/callback", query_string={"code": "c", "state": "s"}), 404)
    start = web.get(f"/login/{PROXY}")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    assert "cancelled" in page_error(web.get(f"/login/{PROXY}/callback", query_string={"state": state}), 400)
    page_error(web.get(f"/login/{PROXY}", query_string={"corpId": "bad corp!"}), 400)


def test_workbench_login_goes_through_wecom_oauth_in_the_client(web: FlaskClient, demo: jitlite.App,
                                                                sandbox: Sandbox) -> None:
    start = web.get(f"/login/{PROXY}/workbench")
    target = urlsplit(start.headers["Location"])
    assert target.path == "/connect/oauth2/authorize" and parse_qs(target.query)["appid"] == [CORP]
    done = through_provider(web, sandbox, start, {"userid": "lina"})
    assert done.status_code == 302 and done.headers["Location"] == "/me"
    assert "李娜" in web.get("/me").get_data(as_text=True)


def test_service_app_login_picks_the_corp_on_wecoms_page(web: FlaskClient, sandbox: Sandbox) -> None:
    start = web.get(f"/login/{PROXY}", query_string={"loginType": "ServiceApp"})
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["login_type"] == ["ServiceApp"] and query["appid"] == [DEFAULT_SUITE_ID]
    done = through_provider(web, sandbox, start, {"userid": "chenjie", "corpid": CORP})
    assert done.status_code == 302
    assert "陈杰" in web.get("/me").get_data(as_text=True)


def test_the_self_built_and_wechat_types_log_in_the_same_way(web: FlaskClient, demo: jitlite.App,
                                                             sandbox: Sandbox) -> None:
    assert browser_login(web, sandbox, INNER, "zhangwei").status_code == 302
    assert session_of(web, demo)["corpId"] == CORP
    assert "张伟" in web.get("/me").get_data(as_text=True)
    other = create_web_app(demo).test_client()
    assert browser_login(other, sandbox, WECHAT, "wx-alice").status_code == 302
    assert session_of(other, demo)["corpId"] is None  # a WeChat login enters no corp
    assert "爱丽丝" in other.get("/me").get_data(as_text=True)


def test_organisation_code_entry_starts_the_corps_qr_login(web: FlaskClient, demo: jitlite.App,
                                                           sandbox: Sandbox) -> None:
    demo.getElement(SERVICE).setCode(corpId=CORP, code="sandbox-1")
    hop = web.get("/login/org", query_string={"code": "sandbox-1", "next": "/me"})
    assert hop.status_code == 302 and hop.headers["Location"] == "/login/org/sandbox-1?next=%2Fme"
    start = web.get("/login/org/sandbox-1", query_string={"next": "/me"})
    assert start.status_code == 302
    location = urlsplit(start.headers["Location"])
    assert location.path == f"/login/{PROXY}"
    assert parse_qs(location.query) == {"corpId": [CORP], "loginType": ["qr"], "next": ["/me"]}
    done = through_provider(web, sandbox, web.get(f"{location.path}?{location.query}"), {"userid": "wangfang"})
    assert done.headers["Location"] == "/me"
    for bad in ("nope", "bad code!"):
        response = web.get("/login/org", query_string={"code": bad})
        if response.status_code == 302:
            response = web.get(response.headers["Location"])
        assert "no organisation has this code" in page_error(response, 404)


def test_a_member_of_several_corps_chooses_one(web: FlaskClient, demo: jitlite.App, sandbox: Sandbox) -> None:
    second = SandboxCorp("wwsandboxcorp0002", "第二公司")
    second.add_department(Department(1, "第二公司", 0, 1))
    second.add_member(Member("wangfang", "王芳(二)", [1], mobile="13900000002"))
    sandbox.state.add_corp(second)
    sandbox.authorize(corp_id="wwsandboxcorp0002")
    assert demo.getElement(SERVICE).waitIdle(10)
    browser_login(web, sandbox)  # the first login creates the user; bind their member of the second corp
    user_id = str(session_of(web, demo)["userId"])
    demo.getElement(AUTH_SERVICE).bindIdentity(user_id, Identity(WECOM, "wwsandboxcorp0002", "wangfang"))

    chooser = browser_login(web, sandbox, next="/me")
    assert chooser.status_code == 200
    page = chooser.get_data(as_text=True)
    assert "第二公司" in page and "沙盒科技" in page
    code_cookie = web.get_cookie("jitlite_login_code", path="/login/")
    assert code_cookie is not None and code_cookie.http_only and code_cookie.value not in page
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    form = {"corpId": "wwsandboxcorp0002", "next": "/me", "csrf": csrf}
    page_error(web.post("/login/choose", data={**form, "csrf": "x"}), 403)
    page_error(web.post("/login/choose", data=form, headers={"Origin": "https://evil.example"}), 403)
    chosen = web.post("/login/choose", data=form, headers={"Origin": "http://localhost"})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/me"
    assert session_of(web, demo)["corpId"] == "wwsandboxcorp0002"
    page_error(web.post("/login/choose", data=form), 400)  # the login code was spent and its cookie cleared


def test_logout_needs_the_forms_csrf_token_and_ends_the_session(web: FlaskClient, demo: jitlite.App,
                                                                sandbox: Sandbox) -> None:
    browser_login(web, sandbox)
    token = web.get_cookie(SESSION_COOKIE).value  # type: ignore[union-attr]
    page = web.get("/me").get_data(as_text=True)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    page_error(web.post("/logout"), 403)
    page_error(web.post("/logout", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}), 403)
    assert web.get("/me").status_code == 200  # still logged in
    out = web.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["Location"] == "/login"
    assert web.get_cookie(SESSION_COOKIE) is None
    with pytest.raises(jitlite.SessionInvalid):
        demo.getElement(AUTH_SERVICE).getSession(token)
    assert web.get("/me").headers["Location"] == "/login?next=/me"
    assert web.get("/logout").status_code == 405
