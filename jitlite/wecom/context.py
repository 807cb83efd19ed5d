"""What the WeCom and WeChat clients of one app share: hosts, HTTP transport, tokens and tickets.

Hosts come from the app's settings (``app.json`` ``settings`` or ``jitlite.toml`` ``[settings]``),
so one file points an app at the sandbox; the real hosts are the defaults. Tokens are cached in the
app's ``caches.Default`` (shared by every process when that is SQLite or Redis) and suite tickets
are kept in the database, so a restart loses neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from jitlite.storage import Q

from .client import DEFAULT_TIMEOUT
from .tokens import TokenManager

if TYPE_CHECKING:
    from jitlite.runtime.app import App

__all__ = ["DEFAULT_HOSTS", "DatabaseTicketStore", "WeComContext"]

DEFAULT_HOSTS = {
    "wecomBaseUrl": "https://qyapi.weixin.qq.com",
    "wechatBaseUrl": "https://api.weixin.qq.com",
    "wecomLoginBaseUrl": "https://login.work.weixin.qq.com",
    "wechatOpenBaseUrl": "https://open.weixin.qq.com",
}
TICKET_MODEL = "auths.loginTypes.QywxProxyType.QywxSuiteTicketModel"


class DatabaseTicketStore:
    """A TicketStore in the app's database: the newest ticket per suite survives restarts."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def save(self, suite_id: str, ticket: str, received_at: float) -> None:
        """Keep ticket unless a newer one is already stored (pushes can arrive out of order)."""
        if not suite_id or not ticket:
            raise ValueError("suite_id and ticket must be non-empty")
        when = datetime.fromtimestamp(received_at, timezone.utc)
        values = {"ticket": ticket, "receivedAt": when}
        # A conditional update first: only a newer (or equally new) push replaces what is stored.
        if self.model.updateByFilter(Q(suiteId=suite_id, receivedAt__lte=when), values):
            return
        if self.model.get(Q(suiteId=suite_id)) is None:
            self.model.createOrUpdateMany([{"suiteId": suite_id, **values}], uniqueFields=["suiteId"])
            # Another process may have stored a newer ticket between the two statements; settle it.
            self.model.updateByFilter(Q(suiteId=suite_id, receivedAt__lt=when), values)

    def latest(self, suite_id: str) -> tuple[str, float] | None:
        """Return (ticket, received_at) of the newest ticket for the suite, or None."""
        row = self.model.get(Q(suiteId=suite_id))
        return None if row is None else (row.ticket, row.receivedAt.timestamp())


@dataclass
class WeComContext:
    """The shared pieces every WeCom/WeChat client of an app is made with."""

    app: App
    tokens: TokenManager

    @classmethod
    def of(cls, app: App) -> WeComContext:
        """Return the app's context, made once per app."""
        return app.shared("jitlite.wecom", lambda: cls(app, TokenManager(cache=app.defaultCache())))

    @cached_property
    def tickets(self) -> DatabaseTicketStore:
        """Return the suite-ticket store (opened on first use: only suites need it)."""
        return DatabaseTicketStore(self.app.getElement(TICKET_MODEL))

    def host(self, name: str) -> str:
        """Return a base URL from the settings (``wecomBaseUrl``, ``wechatBaseUrl``, …), else the real one."""
        return str(self.app.settings.get(name) or DEFAULT_HOSTS[name]).rstrip("/")

    def _timeout(self) -> float | httpx.Timeout:
        configured = self.app.settings.get("httpTimeout")
        return DEFAULT_TIMEOUT if configured is None else float(configured)

    def client_options(self, *, wechat: bool = False) -> dict[str, Any]:
        """Return the keyword arguments a client of this app is made with."""
        return {
            "base_url": self.host("wechatBaseUrl" if wechat else "wecomBaseUrl"),
            "transport": self.app.httpTransport,
            "timeout": self._timeout(),
            "tokens": self.tokens,
        }
