"""No secret or token reaches a log record, whatever the level and whichever library logs it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
from werkzeug.serving import make_server

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.testing import Sandbox
from jitlite.web import create_web_app

from .conftest import PROXY_SERVICE, RecordCapture

PROXY = "auths.QywxProxyTemp"
AUTH_SERVICE = "auths.services.AuthService"


@contextmanager
def serving(wsgi_app: Any) -> Iterator[str]:
    """Serve a WSGI app over real HTTP on loopback; yield its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def leaks(capture: RecordCapture, secrets: dict[str, str]) -> list[str]:
    """Return where any secret, as is or URL-encoded, shows in a captured record."""
    forms = {label: {value, quote(value, safe=""), quote_plus(value)} for label, value in secrets.items()}
    found: list[str] = []
    for record in capture.records:
        for text in capture.texts(record):
            found.extend(f"{label} in {record.name}: {text[:300]!r}"
                         for label, values in forms.items() if any(v in text for v in values))
    return found


def test_proxy_login_flow_at_debug_logs_no_secret(
    captured: RecordCapture, open_demo: Callable[[], jitlite.App], sandbox: Sandbox
) -> None:
    app = open_demo()
    state = sandbox.state
    suite = state.suites[DEFAULT_SUITE_ID]
    login, service, auth = app.getElement(PROXY), app.getElement(PROXY_SERVICE), app.getElement(AUTH_SERVICE)
    secrets: dict[str, str] = {
        "suite secret": suite.secret, "callback Token": suite.token, "EncodingAESKey": suite.encoding_aes_key,
        "Fernet key": app.envVars["JITLITE_SECRET_KEY"],
    }

    # Ticket push and authorisation: both callbacks are stored, acknowledged and processed.
    state.push_suite_ticket(DEFAULT_SUITE_ID)
    ticket = state.latest_suite_ticket(DEFAULT_SUITE_ID)
    assert ticket is not None
    secrets["suite ticket"] = ticket.value
    secrets["auth code"] = sandbox.authorize().value
    assert service.waitIdle(10)
    secrets["permanent code"] = state.authorizations[(DEFAULT_SUITE_ID, DEFAULT_CORP_ID)].permanent_code

    # QR login: the login page redirects back with an OAuth code; a login code, then a session.
    url = login.buildQrLoginUrl(DEFAULT_CORP_ID, "https://app.example/qywx/callback")
    with sandbox.client() as browser:
        redirect = browser.post(url, data={"userid": "wangfang"})
    back = parse_qs(urlsplit(redirect.headers["location"]).query)
    secrets["QR OAuth code"] = back["code"][0]
    result = login.getLoginCode(corpId=DEFAULT_CORP_ID, code=back["code"][0], loginType="qr",
                                state=back["state"][0])
    secrets["login code"] = result["loginCode"]
    secrets["session token"] = auth.exchangeLoginCode(result["loginCode"], DEFAULT_CORP_ID, "web")["token"]

    # Workbench login over real HTTP, so werkzeug's access log and httpcore's debug log run too.
    code = state.issue_corp_code(DEFAULT_CORP_ID, "wangfang", suite_id=DEFAULT_SUITE_ID)
    secrets["workbench OAuth code"] = code
    with serving(create_web_app(app)) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/auth/qywx-proxy/workbench", params={"corpId": DEFAULT_CORP_ID, "code": code})
        assert answer.status_code == 200, answer.text
        secrets["workbench session token"] = answer.json()["token"]
        timestamp, nonce = str(int(time.time())), "n-verify"
        echostr = login.crypto.encrypt("1616140317555161061", DEFAULT_SUITE_ID)
        verify = client.get("/callbacks/qywx-proxy", params={
            "msg_signature": login.crypto.signature(timestamp, nonce, echostr), "timestamp": timestamp,
            "nonce": nonce, "echostr": echostr})
        assert verify.status_code == 200
        secrets["echostr"] = echostr
    service.loginByWorkbench(corpId=DEFAULT_CORP_ID,
                             code=state.issue_corp_code(DEFAULT_CORP_ID, "lina", suite_id=DEFAULT_SUITE_ID))

    for issued in state._tokens.values():  # every suite and corp access token the sandbox handed out
        secrets[f"{issued.kind} access token"] = issued.value
    assert {"suite", "corp"} <= {i.kind for i in state._tokens.values()}

    assert all(len(v) >= 6 for v in secrets.values()), secrets.keys()
    assert leaks(captured, secrets) == []
    # The test saw the records it is about: httpx's request lines (token URLs), werkzeug's access lines.
    names = {r.name for r in captured.records}
    assert {"httpx", "werkzeug"} <= names and any(n.startswith("httpcore") for n in names), names
    messages = [r.getMessage() for r in captured.records]
    assert any("gettoken" in m and "corpsecret=***" in m for m in messages)
    assert any("workbench" in m and "code=***" in m for m in messages if "HTTP/1.1" in m)
