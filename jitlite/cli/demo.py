"""The demo: the default app against an in-process sandbox, from suite_ticket to session token.

Everything runs in this process on the embedded defaults — SQLite in the app's appData/ for the
database and the cache, the sandbox instead of WeCom — and every step is the code a real deployment
runs. The app is closed at the end (its callback worker stops, its database and cache close).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from rich.console import Console
from rich.table import Table

from ..runtime.app import App
from ..sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from ..sandbox.inprocess import Sandbox

__all__ = ["run_demo"]

PROXY = "auths.QywxProxyTemp"
PROXY_SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


def run_demo(app: App, console: Console, member: str = "wangfang") -> dict[str, Any]:
    """Run the proxy-development login end to end on the sandbox, then close the app; return what it produced."""
    sandbox = Sandbox.start()
    sandbox.connect(app)
    login = app.getElement(PROXY)
    service = app.getElement(PROXY_SERVICE)
    auth = app.getElement("auths.services.AuthService")
    try:
        console.rule("1. WeCom pushes a suite_ticket to the callback URL")
        sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
        service.waitIdle(10)
        _records(console, service)

        console.rule("2. An admin of the corp installs the app: create_auth")
        sandbox.authorize()
        service.waitIdle(10)
        _records(console, service)
        corp = login.corpAuth(DEFAULT_CORP_ID)
        console.print(f"authorised corp {corp.corpId} ({corp.corpName}), agent {corp.agentId}; its permanent code "
                      "is stored encrypted", markup=False)

        console.rule("3. A member scans the QR code (the sandbox's login page)")
        url = login.buildQrLoginUrl(DEFAULT_CORP_ID, "http://127.0.0.1:8000/login/callback")
        console.print(url, markup=False, soft_wrap=True)
        with sandbox.client() as browser:
            redirect = browser.post(url, data={"userid": member})
        back = parse_qs(urlsplit(redirect.headers["location"]).query)
        result = login.getLoginCode(corpId=DEFAULT_CORP_ID, code=back["code"][0], loginType="qr",
                                    state=back["state"][0])
        console.print(f"getLoginCode → userId {result['userId']}, corpList {result['corpList']}", markup=False)
        session = auth.exchangeLoginCode(result["loginCode"], DEFAULT_CORP_ID, "web")
        console.print(f"exchangeLoginCode → a session token ({len(session['token'])} characters) valid until "
                      f"{session['expiresAt']:%Y-%m-%d %H:%M} UTC", markup=False)

        console.rule("4. The same member opens the app from the WeCom workbench")
        code = sandbox.state.issue_corp_code(DEFAULT_CORP_ID, member, suite_id=DEFAULT_SUITE_ID)
        workbench = service.loginByWorkbench(corpId=DEFAULT_CORP_ID, code=code)
        console.print(f"loginByWorkbench → {workbench['user']['name']} ({workbench['wecomUserId']}), same user: "
                      f"{workbench['userId'] == result['userId']}, session token issued", markup=False)

        console.rule("5. The other login elements (configuration only)")
        for name in ("auths.loginTypes.QywxInnerExample", "auths.loginTypes.MyWeChatLogin"):
            element = app.getElement(name)
            console.print(f"{name}: authType {element.authType}, authConfig {element.authConfig}", markup=False)
        return {"userId": result["userId"], "corpId": DEFAULT_CORP_ID, "workbenchUser": workbench["userId"]}
    finally:
        app.close()
        sandbox.state.close()


def _records(console: Console, service: Any) -> None:
    table = Table("record", "event", "status", "attempts", "note")
    for row in service.records.query(orderList=[["id", 1]], size=20)["rowDatas"]:
        table.add_row(str(row.id), row.infoType, row.status, str(row.attempts), row.note or row.lastError or "")
    console.print(table)
