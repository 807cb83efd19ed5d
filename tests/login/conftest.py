"""The default app on an in-process sandbox, for the login Types: a browser, the pages, the elements."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID, DEFAULT_WECHAT_APPID
from jitlite.sandbox.testing import Sandbox

from ..conftest import DEMO_APP

INNER = "auths.loginTypes.QywxInnerExample"
WECHAT = "auths.loginTypes.MyWeChatLogin"
PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
AUTH_SERVICE = "auths.services.AuthService"
CORP = DEFAULT_CORP_ID
SUITE = DEFAULT_SUITE_ID
WX_APP = DEFAULT_WECHAT_APPID
REDIRECT = "https://app.example/login/callback"


def write_files(root: Path, files: dict[str, Any]) -> None:
    """Write {relative path: JSON object or text} under root."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False),
                        encoding="utf-8")


@pytest.fixture
def open_demo(tmp_path: Path, sandbox: Sandbox) -> Iterator[Callable[..., jitlite.App]]:
    """Return a function opening a copy of the default app (with extra files if given) on the sandbox."""
    opened: list[jitlite.App] = []

    def open_app(extra: dict[str, Any] | None = None, *, connect: bool = True) -> jitlite.App:
        root = tmp_path / f"demo{len(opened)}"
        shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
        write_files(root, extra or {})
        app = jitlite.App(root, environ={})
        if connect:
            sandbox.connect(app)
        opened.append(app)
        return app

    yield open_app
    for app in opened:
        if SERVICE in app._objects:
            app.getElement(SERVICE).close()


@pytest.fixture
def demo(open_demo: Callable[..., jitlite.App]) -> jitlite.App:
    """The default app on the sandbox."""
    return open_demo()


def scan(sandbox: Sandbox, url: str, **form: str) -> dict[str, str]:
    """Open a login page, "scan" (post the person chosen) and return the redirect's query (code, state…)."""
    with sandbox.client() as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        redirect = browser.post(url, data=form)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    asked = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    assert location.startswith(asked + "?"), location  # back where the login URL said, with the code
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def authorise_proxy(app: jitlite.App, sandbox: Sandbox) -> Any:
    """Push a suite_ticket, authorise the default corp, wait for both callbacks; return the proxy login."""
    sandbox.state.push_suite_ticket(SUITE)
    sandbox.authorize()
    assert app.getElement(SERVICE).waitIdle(10)
    return app.getElement(PROXY)
