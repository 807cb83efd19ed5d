"""The sandbox server's front page, and its callback URL registration with WeCom's echostr verification."""

from __future__ import annotations

import httpx
from flask import Flask, request

from jitlite.sandbox import defaults
from jitlite.sandbox.server import SandboxServer
from jitlite.wecom.crypto import WeComCrypto


def test_front_page_shows_what_it_serves_and_the_credentials() -> None:
    with SandboxServer() as sandbox:
        page = httpx.get(f"{sandbox.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for shown in ("/cgi-bin/", "/wwlogin/sso/login", "/connect/qrconnect", "/sandbox/",
                  defaults.DEFAULT_SUITE_ID, defaults.DEFAULT_SUITE_SECRET, defaults.DEFAULT_SUITE_TOKEN,
                  defaults.DEFAULT_ENCODING_AES_KEY, defaults.DEFAULT_CORP_ID, defaults.DEFAULT_AGENT_SECRET,
                  defaults.DEFAULT_WECHAT_APPID, "wangfang", "王芳", "wx-alice", sandbox.url):
        assert shown in page.text, shown


def _receiver(answer_right: bool) -> Flask:
    """A callback endpoint that verifies URLs as an app does (or answers the wrong text)."""
    receiver = Flask("receiver")
    crypto = WeComCrypto(defaults.DEFAULT_SUITE_TOKEN, defaults.DEFAULT_ENCODING_AES_KEY)

    @receiver.get("/cb")
    def verify() -> str:
        echo, receive_id = crypto.open_echostr(request.args["msg_signature"], request.args["timestamp"],
                                               request.args["nonce"], request.args["echostr"])
        assert receive_id == defaults.DEFAULT_SUITE_ID
        return echo if answer_right else "success"

    return receiver


def test_registering_a_callback_url_verifies_it() -> None:
    with SandboxServer() as sandbox:
        sandbox.state.push_transport = httpx.WSGITransport(app=_receiver(answer_right=True))
        path = f"{sandbox.url}/sandbox/suites/{defaults.DEFAULT_SUITE_ID}/callback-url"
        answer = httpx.post(path, json={"callback_url": "http://app.test/cb"}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["callback_url"]["ok"] is True
        assert sandbox.state.suite(defaults.DEFAULT_SUITE_ID).callback_url == "http://app.test/cb"
        listed = httpx.get(path, timeout=10).json()
        assert listed["callback_url"] == "http://app.test/cb" and [c["ok"] for c in listed["checks"]] == [True]
        assert "last verification: passed" in httpx.get(f"{sandbox.url}/", timeout=10).text


def test_a_url_that_fails_verification_is_not_saved() -> None:
    with SandboxServer() as sandbox:
        sandbox.state.push_transport = httpx.WSGITransport(app=_receiver(answer_right=False))
        path = f"{sandbox.url}/sandbox/suites/{defaults.DEFAULT_SUITE_ID}/callback-url"
        answer = httpx.post(path, json={"callback_url": "http://app.test/cb"}, timeout=10)
        assert answer.status_code == 400
        assert "did not answer the decrypted echostr" in answer.json()["error"]
        assert sandbox.state.suite(defaults.DEFAULT_SUITE_ID).callback_url is None
        # Unreachable, and not a URL at all.
        sandbox.state.push_transport = None
        answer = httpx.post(path, json={"callback_url": "http://127.0.0.1:9/cb", "timeout": 2}, timeout=10)
        assert answer.status_code == 400 and "ConnectError" in answer.json()["error"]
        answer = httpx.post(path, json={"callback_url": "ftp://x"}, timeout=10)
        assert answer.status_code == 400 and "http(s)" in answer.json()["error"]
        answer = httpx.post(f"{sandbox.url}/sandbox/suites/nosuch/callback-url", json={"callback_url": "http://a/"},
                            timeout=10)
        assert answer.status_code == 400 and "no suite 'nosuch'" in answer.json()["error"]
        assert [c["ok"] for c in httpx.get(path, timeout=10).json()["checks"]] == [False, False]


def test_sandbox_command_verifies_its_callback_url_at_start() -> None:
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "jitlite", "sandbox", "--port", "0", "--ticket-interval", "0",
                                "--callback-url", "http://127.0.0.1:9/cb"], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first, second = process.stderr.readline(), process.stderr.readline()
        assert "jitlite sandbox on http://127.0.0.1:" in first
        assert "callback URL http://127.0.0.1:9/cb failed verification: ConnectError" in second
        assert "/sandbox/suites/tjsandboxsuite0001/callback-url" in second
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
