"""The demo app, copied to a temporary folder and pointed at an in-process sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import jitlite

PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


@pytest.fixture
def demo(open_demo: Callable[[], jitlite.App]) -> jitlite.App:
    """The demo app on the sandbox."""
    return open_demo()


def service(app: jitlite.App) -> Any:
    """Return the proxy-development service of an app."""
    return app.getElement(SERVICE)
