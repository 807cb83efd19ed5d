"""End to end in a real browser: Debian's chromium (driven by Playwright) against the app and the sandbox over HTTP.

Both servers listen on 127.0.0.1: the sandbox (WeCom's and WeChat's APIs and login pages) and the
app's web layer, pointed at the sandbox by its host settings. The browser logs in through each of
the three login Types on the sandbox's pages (its buttons stand for the scan), lands on the page
showing the user and the synced org, logs out, and an admin retries a failed callback. Each step
leaves a screenshot in ``test-artifacts/browser/``.

Skipped when chromium or Playwright is missing, except under ``CI=true``, where that fails the run
(``.ci/browser`` installs chromium and the CJK fonts).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.server import SandboxServer
from jitlite.sandbox.state import SandboxState
from jitlite.web import create_web_app

from ..conftest import DEMO_APP, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PROXY = "auths.QywxProxyTemp"
INNER = "auths.loginTypes.QywxInnerExample"
WECHAT = "auths.loginTypes.MyWeChatLogin"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
ORG = "corps.MyQywxProxyCorp"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
NOTIFY = "/api/local/jitliteDemo/auths/loginTypes/QywxProxyType/services/QywxProxyAuthService/notify"


@pytest.fixture
def chromium() -> str:
    """Return Debian's chromium, or skip (fail under CI=true) when it or Playwright is missing."""
    found = os.environ.get("JITLITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    missing = [] if found else ["Debian's chromium (bash .ci/browser installs it)"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert found is not None
    return found


@dataclass
class Site:
    """The app served on loopback, the sandbox beside it, and where screenshots go."""

    app: jitlite.App
    url: str
    sandbox: SandboxServer

    def shot(self, page: Any, name: str, *, full: bool = True) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Serve the demo app and the sandbox on 127.0.0.1; authorise the corp, sync it, leave one callback failed."""
    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    (root / "jitlite.toml").write_text(f'[settings]\nadmins = ["{DEFAULT_CORP_ID}:zhangwei"]\n', encoding="utf-8")
    sandbox = SandboxServer(SandboxState.with_defaults(push_backoff=0.0)).start()
    app = jitlite.App(root, environ={})
    app.configure(wecomBaseUrl=sandbox.url, wechatBaseUrl=sandbox.url, wecomLoginBaseUrl=sandbox.url,
                  wechatOpenBaseUrl=sandbox.url)
    server = make_server("127.0.0.1", 0, create_web_app(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="jitlite-web", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    service = app.getElement(SERVICE)
    try:
        # WeCom's callback URL is JitAi's API path of notify; the pushes cross real sockets.
        sandbox.state.update_suite(DEFAULT_SUITE_ID, callback_url=url + NOTIFY)
        sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
        sandbox.state.authorize(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
        assert service.waitIdle(10)
        app.getElement(ORG).syncCorp()
        sandbox.state.add_fault("/cgi-bin/service/get_auth_info", errcode=48002, times=1)
        sandbox.state.change_auth(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)
        assert service.waitIdle(10)
        assert [p.answer for p in sandbox.state.push_log()] == ["success"] * 3
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield Site(app, url, sandbox)
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        service.close()
        sandbox.stop()


def log_in(site: Site, page: Any, login: str, person: str, step: str) -> None:
    """Click a login element's button on the login page, then the person on the sandbox's page."""
    page.goto(f"{site.url}/login")
    page.locator(f'[data-login="{login}"] a.button').first.click()
    page.wait_for_url(f"{site.sandbox.url}/**")
    site.shot(page, f"{step}-sandbox-page")
    page.locator(f'button[title="{person}"]').first.click()
    # WeChat's login URL ends in #wechat_redirect, and a redirect keeps the fragment it came with.
    page.wait_for_url(re.compile(re.escape(f"{site.url}/me") + "(#.*)?$"))


def log_out(page: Any, site: Site) -> None:
    page.locator('[data-action="logout"]').click()
    page.wait_for_url(f"{site.url}/login")


def test_a_person_logs_in_three_ways_and_an_admin_retries_a_callback(chromium: str, site: Site) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 860}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(10_000)

            page.goto(f"{site.url}/login")
            expect(page.locator("[data-login]")).to_have_count(3)
            site.shot(page, "01-login-page")
            page.set_viewport_size({"width": 390, "height": 844})
            site.shot(page, "01-login-page-phone")
            page.set_viewport_size({"width": 1200, "height": 860})

            # 1. WeCom proxy development: QR on the corp's page, then the user and the synced org.
            log_in(site, page, PROXY, "wangfang", "02-wecom")
            expect(page.locator("[data-user-name]")).to_have_text("王芳")
            expect(page.locator("[data-corp-name]")).to_have_text("沙盒科技")
            expect(page.locator("[data-member]")).to_have_count(10)
            expect(page.locator("[data-dept]")).to_have_count(5)
            site.shot(page, "03-me-org")
            page.fill('input[name="q"]', "后端")
            page.press('input[name="q"]', "Enter")
            expect(page.locator("[data-member]")).to_have_count(2)
            page.set_viewport_size({"width": 390, "height": 844})
            site.shot(page, "04-me-org-phone")
            page.set_viewport_size({"width": 1200, "height": 860})
            log_out(page, site)
            site.shot(page, "05-logged-out")
            page.goto(f"{site.url}/me")
            page.wait_for_url(f"{site.url}/login?next=/me")

            # 2. The self-built app.
            log_in(site, page, INNER, "zhangwei", "06-self-built")
            expect(page.locator("[data-user-name]")).to_have_text("张伟")
            expect(page.locator("[data-member]")).to_have_count(10)
            site.shot(page, "07-me-self-built")
            log_out(page, site)

            # 3. WeChat: a WeChat account, no corp.
            log_in(site, page, WECHAT, "wx-alice", "08-wechat")
            expect(page.locator("[data-user-name]")).to_have_text("爱丽丝")
            expect(page.locator("[data-member]")).to_have_count(0)
            site.shot(page, "09-me-wechat")
            log_out(page, site)

            # 4. An admin retries the failed callback from the admin page.
            log_in(site, page, PROXY, "zhangwei", "10-admin-login")
            page.goto(f"{site.url}/admin")
            failed = page.locator('[data-record][data-status="failed"]')
            expect(failed).to_have_count(1)
            record_id = failed.get_attribute("data-record")
            site.shot(page, "11-admin-failed-callback")
            failed.locator('[data-action="retry"]').click()
            expect(page.locator(f'[data-record="{record_id}"]')).to_have_attribute("data-status", "done")
            expect(page.locator('[data-notice="retried"]')).to_be_visible()
            site.shot(page, "12-admin-retried")
            page.locator('[data-action="sync"]').first.click()
            expect(page.locator('[data-notice="synced"]')).to_be_visible()
            page.set_viewport_size({"width": 390, "height": 844})
            site.shot(page, "13-admin-phone")
        finally:
            browser.close()
    service = site.app.getElement(SERVICE)
    assert [r.status for r in service.records.query(orderList=[["id", 1]])["rowDatas"]] == ["done"] * 3
