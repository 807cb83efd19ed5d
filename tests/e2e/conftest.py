"""The demo app, copied to a temporary folder and pointed at an in-process sandbox."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite.sandbox.testing import Sandbox

from ..conftest import DEMO_APP

PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


@pytest.fixture
def open_demo(tmp_path: Path, sandbox: Sandbox) -> Iterator[Callable[[], jitlite.App]]:
    """Return a function that opens (or re-opens, as after a restart) the demo app on the sandbox."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    opened: list[jitlite.App] = []

    def open_app() -> jitlite.App:
        app = jitlite.App(root, environ={})
        sandbox.connect(app)
        opened.append(app)
        return app

    yield open_app
    for app in opened:
        if SERVICE in app._objects:
            app.getElement(SERVICE).close()


@pytest.fixture
def demo(open_demo: Callable[[], jitlite.App]) -> jitlite.App:
    """The demo app on the sandbox."""
    return open_demo()


def service(app: jitlite.App) -> Any:
    """Return the proxy-development service of an app."""
    return app.getElement(SERVICE)
