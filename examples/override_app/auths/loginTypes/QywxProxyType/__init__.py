"""Override of the official ``auths.loginTypes.QywxProxyType``: subclass it, change one method."""

from __future__ import annotations

from typing import Any

# The official class, imported by its package path (the short name now means this override).
from jitlite.types.auths.loginTypes.QywxProxyType import QywxProxyAuth


class BrandedQywxProxyAuth(QywxProxyAuth):
    """The official proxy-development login, with the app's branding in its login config."""

    def getLoginConfig(self) -> dict[str, Any]:
        """Return the official login config plus the title the login page shows."""
        config = super().getLoginConfig()
        config["loginTitle"] = "Sign in to Acme with WeCom"
        return config
