"""A service that imports another element's code by its fullName."""

from __future__ import annotations

# Resolved through the app's layers, child first: here, the official corps.QywxProxyType.
from corps.QywxProxyType import QywxProxyCorp

from jitlite.meta.services import Service


class OrgReport(Service):
    """Reports on the app's WeCom organisations."""

    def corpElements(self) -> list[str]:
        """Return the fullNames of the app's WeCom proxy-development organisations."""
        return [
            spec.full_name
            for spec in self.app.specs()
            if spec.kind == "instance" and isinstance(self.app.getElement(spec.full_name), QywxProxyCorp)
        ]
