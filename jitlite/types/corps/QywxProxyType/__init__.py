"""``corps.QywxProxyType``: the org chart of a WeCom proxy-development corp."""

from __future__ import annotations

from jitlite.meta.corps import Corp

from .schema import Config

__all__ = ["QywxProxyCorp"]


class QywxProxyCorp(Corp):
    """A corp that authorised a proxy-development suite, with its departments and members."""

    config: Config
