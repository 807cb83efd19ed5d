"""The service of ``auths.loginTypes.QywxProxyType``: callbacks, workbench login, organisation codes."""

from __future__ import annotations

from jitlite.meta.services import Service

__all__ = ["QywxProxyAuthService"]


class QywxProxyAuthService(Service):
    """Receives WeCom's suite callbacks and logs members in from the workbench."""
