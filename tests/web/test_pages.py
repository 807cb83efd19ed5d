"""The pages: the login page, the user's page with the synced org, and the admin page (admins only)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jitlite
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import Q
from jitlite.web import create_web_app

from .conftest import CORP, INNER, PROXY, SERVICE, WECHAT, authorise, browser_login

ORG = "corps.MyQywxProxyCorp"
OFF = {"auths/QywxProxyOff/e.json": {"title": "停用的登录 Off", "type": "auths.loginTypes.QywxProxyType"},
       "auths/QywxProxyOff/QywxProxyOff.json": {
           "authConfig": {"suiteId": "tjoff", "suiteSecret": "s", "encodingAESKey": "Q" * 43, "token": "t"},
           "isActive": False}}


def html(response: TestResponse, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
def site(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The demo app with an admin (zhangwei of the sandbox corp), a disabled login element, its org synced."""
    app = open_demo({**OFF, "jitlite.toml": f'[settings]\nadmins = ["{CORP}:zhangwei"]\n'})
    authorise(app, sandbox)
    app.getElement(ORG).syncCorp()
    return app


def client(app: jitlite.App) -> FlaskClient:
    return create_web_app(app).test_client()


def test_the_login_page_lists_the_active_login_elements(site: jitlite.App) -> None:
    page = html(client(site).get("/login", query_string={"next": "/admin"}))
    for name in (PROXY, INNER, WECHAT):
        assert f'data-login="{name}"' in page
    assert "auths.QywxProxyOff" not in page  # disabled: not offered
    assert "企业微信扫码登录" in page and "Scan with WeCom" in page and "微信扫码登录" in page
    assert f"/login/{PROXY}?next=/admin" in page and f"/login/{PROXY}/workbench" in page
    assert 'action="/login/org"' in page and "loginType=ServiceApp" in page
    assert 'name="viewport"' in page and "/jitlite-static/jitlite.css" in page
    css = client(site).get("/jitlite-static/jitlite.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and "@media" in css.get_data(as_text=True)


def test_home_and_me_send_anonymous_visitors_to_the_login_page(site: jitlite.App, sandbox: Sandbox) -> None:
    web = client(site)
    assert web.get("/").headers["Location"] == "/login"
    assert web.get("/me").headers["Location"] == "/login?next=/me"
    assert web.get("/me?page=2").headers["Location"] == "/login?next=/me?page%3D2"
    browser_login(web, sandbox)
    assert web.get("/").headers["Location"] == "/me"


def test_me_shows_the_user_the_corp_and_its_synced_org_paged_and_searchable(site: jitlite.App,
                                                                           sandbox: Sandbox) -> None:
    web = client(site)
    browser_login(web, sandbox, userid="lina")
    page = html(web.get("/me"))
    assert "李娜" in page and "沙盒科技" in page and CORP in page
    for dept in ("研发中心", "销售部", "后端组", "前端组"):
        assert dept in page
    assert page.count("data-member=") == 10 and "共 10 条" in page and "全栈工程师" in page
    assert "后端组、前端组" in page  # a member in two departments, by name
    found = html(web.get("/me", query_string={"q": "后端"}))
    assert found.count("data-member=") == 2 and 'data-member="lina"' in found  # by position
    assert html(web.get("/me", query_string={"q": "chenjie"})).count("data-member=") == 1  # by id
    assert html(web.get("/me", query_string={"q": "%"})).count("data-member=") == 10  # % is not a wildcard here
    assert html(web.get("/me", query_string={"dq": "组"})).count("data-dept=") == 2
    store = site.getElement(ORG).orgStore
    store.members.createOrUpdateMany(
        [{"memberId": f"extra{i:02d}", "name": f"临时{i:02d}", "corpFullName": store.corpFullName, "corpId": CORP}
         for i in range(25)], uniqueFields=["corpFullName", "memberId"])
    first, third = html(web.get("/me")), html(web.get("/me", query_string={"page": 3}))
    assert first.count("data-member=") == 20 and "第 1 / 2 页" in first and "page=2" in first
    assert third.count("data-member=") == 0 and "共 35 条" in third
    html(web.get("/me", query_string={"page": "0"}), 400)
    html(web.get("/me", query_string={"page": "x"}), 400)


def test_a_wechat_user_has_no_corp_on_their_page(site: jitlite.App, sandbox: Sandbox) -> None:
    web = client(site)
    browser_login(web, sandbox, WECHAT, "wx-bob")
    page = html(web.get("/me"))
    assert "鲍勃" in page and "Not in a corp" in page and "data-member=" not in page


def test_the_admin_page_is_refused_to_everyone_but_admins(site: jitlite.App, sandbox: Sandbox) -> None:
    anonymous = client(site)
    assert anonymous.get("/admin").headers["Location"] == "/login?next=/admin"
    html(anonymous.post("/admin/organisations/sync", data={"corpFullName": ORG}), 403)
    member = client(site)
    browser_login(member, sandbox, userid="wangfang")
    assert "admins" in html(member.get("/admin"), 403)
    assert "/admin" not in html(member.get("/me")).split("<main>")[0]  # no admin link for them
    csrf = csrf_of(html(member.get("/me")))
    html(member.post("/admin/organisations/sync", data={"corpFullName": ORG, "csrf": csrf}), 403)
    html(member.post(f"/admin/callbacks/{SERVICE}/1/retry", data={"csrf": csrf}), 403)
    admin = client(site)
    browser_login(admin, sandbox, userid="zhangwei")
    page = html(admin.get("/admin"))
    assert "回调记录" in page and "create_auth" in page and f'data-org="{ORG}"' in page
    assert "/api/local/jitliteDemo" in page


def test_an_admin_named_by_user_id_too(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    app = open_demo()
    authorise(app, sandbox)
    web = client(app)
    browser_login(web, sandbox, userid="yangjing")
    user_id = web.get("/me").get_data(as_text=True).split("data-user-id>")[1].split("<")[0]
    html(web.get("/admin"), 403)
    app.configure(admins=[user_id])
    html(web.get("/admin"))


def test_an_admin_retries_a_failed_callback(site: jitlite.App, sandbox: Sandbox) -> None:
    sandbox.state.add_fault("/cgi-bin/service/get_auth_info", errcode=48002, times=1)
    sandbox.state.change_auth(DEFAULT_SUITE_ID, CORP)
    service = site.getElement(SERVICE)
    assert service.waitIdle(10)
    failed = service.records.get(Q(infoType="change_auth"))
    assert failed.status == "failed" and "48002" in failed.lastError
    admin = client(site)
    browser_login(admin, sandbox, userid="zhangwei")
    page = html(admin.get("/admin", query_string={"status": "failed"}))
    assert f'data-record="{failed.id}" data-status="failed"' in page and "create_auth" not in page
    url = f"/admin/callbacks/{SERVICE}/{failed.id}/retry"
    csrf = csrf_of(page)
    html(admin.post(url), 403)  # no CSRF token
    html(admin.post(url, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}), 403)
    assert service.records.get(Q(id=failed.id)).status == "failed"
    done = admin.post(url, data={"csrf": csrf}, headers={"Origin": "http://localhost"})
    assert done.status_code == 303 and done.headers["Location"] == f"/admin?retried={failed.id}#record-{failed.id}"
    assert service.records.get(Q(id=failed.id)).status == "done"
    page = html(admin.get(done.headers["Location"]))
    assert f'data-record="{failed.id}" data-status="done"' in page and 'data-notice="retried"' in page
    again = admin.post(url, data={"csrf": csrf})
    assert "done" in html(again, 409)  # a done record is not run again
    html(admin.post(f"/admin/callbacks/{SERVICE}/999999/retry", data={"csrf": csrf}), 404)
    html(admin.post(f"/admin/callbacks/auths.services.AuthService/{failed.id}/retry", data={"csrf": csrf}), 404)
    html(admin.get("/admin", query_string={"status": "weird"}), 400)


def test_an_admin_syncs_an_organisation_now(site: jitlite.App, sandbox: Sandbox) -> None:
    admin = client(site)
    browser_login(admin, sandbox, userid="zhangwei")
    sandbox.state.add_member(CORP, {"userid": "newbie", "name": "新同事", "department": [3]})
    csrf = csrf_of(html(admin.get("/admin")))
    synced = admin.post("/admin/organisations/sync", data={"corpFullName": ORG, "csrf": csrf})
    assert synced.status_code == 303
    assert site.getElement(ORG).getMember("newbie").name == "新同事"
    page = html(admin.get(synced.headers["Location"]))
    assert 'data-notice="synced"' in page and "11 名成员" in page
    html(admin.post("/admin/organisations/sync", data={"corpFullName": "corps.Nope", "csrf": csrf}), 404)
