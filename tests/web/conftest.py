"""The demo app on an in-process sandbox, an authorised corp, and a Flask test client of its web layer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.web import create_web_app

from ..conftest import DEMO_APP

PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
AUTH_SERVICE = "auths.services.AuthService"
CORP = DEFAULT_CORP_ID
REDIRECT = "https://app.example/qywx/callback"


def copy_demo(root: Path, extra: dict[str, Any] | None = None) -> Path:
    """Copy the demo app to root, adding extra files ({relative path: JSON object or text})."""
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    for relative, content in (extra or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return root


@pytest.fixture
def open_demo(tmp_path: Path, sandbox: Sandbox) -> Iterator[Callable[..., jitlite.App]]:
    """Return a function that opens the demo app (with extra files if given) on the sandbox."""
    opened: list[jitlite.App] = []

    def open_app(extra: dict[str, Any] | None = None) -> jitlite.App:
        app = jitlite.App(copy_demo(tmp_path / f"demo{len(opened)}", extra), environ={})
        sandbox.connect(app)
        opened.append(app)
        return app

    yield open_app
    for app in opened:
        if SERVICE in app._objects:
            app.getElement(SERVICE).close()


def authorise(app: jitlite.App, sandbox: Sandbox) -> None:
    """Push a suite_ticket and authorise the default corp; wait until both callbacks are processed."""
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    sandbox.authorize()
    assert app.getElement(SERVICE).waitIdle(10)
    assert app.getElement(PROXY).corpAuth(CORP).status == "active"


@pytest.fixture
def demo(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> jitlite.App:
    """The demo app on the sandbox, with the default corp authorised."""
    app = open_demo()
    authorise(app, sandbox)
    return app


@pytest.fixture
def web(demo: jitlite.App) -> FlaskClient:
    """A Flask test client of the demo app's web layer."""
    return create_web_app(demo).test_client()


INNER = "auths.loginTypes.QywxInnerExample"
WECHAT = "auths.loginTypes.MyWeChatLogin"


def through_provider(web: FlaskClient, sandbox: Sandbox, start: TestResponse, pick: dict[str, str]) -> TestResponse:
    """Follow a login start (302 to the sandbox), "scan" on the sandbox page, and return the callback's answer."""
    assert start.status_code == 302, start.get_data(as_text=True)
    with sandbox.client() as browser:
        back = browser.post(start.headers["Location"], data=pick)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["location"])
    return web.get(f"{parts.path}?{parts.query}")


def browser_login(web: FlaskClient, sandbox: Sandbox, name: str = PROXY, userid: str = "wangfang",
                  **query: str) -> TestResponse:
    """Log in through /login/<name> and the sandbox's page as a WeCom member (or, for WeChat, a WeChat user)."""
    pick = {"user": userid} if name == WECHAT else {"userid": userid}
    return through_provider(web, sandbox, web.get(f"/login/{name}", query_string=query), pick)


def qr_login(web: FlaskClient, sandbox: Sandbox, userid: str = "wangfang") -> tuple[str, str]:
    """Run the QR login round trip (qr-url, WeCom's login page, the redirect); return (code, state)."""
    answer = web.get(f"/auth/{PROXY}/qr-url", query_string={"corpId": CORP, "redirectUri": REDIRECT})
    assert answer.status_code == 200, answer.get_json()
    url = answer.get_json()["url"]
    with sandbox.client() as browser:
        redirect = browser.post(url, data={"userid": userid})
    assert redirect.status_code == 302
    back = parse_qs(urlsplit(redirect.headers["location"]).query)
    return back["code"][0], back["state"][0]
