"""The per-app WeCom context: hosts from settings, tokens in caches.Default, tickets in the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import jitlite
from jitlite.wecom import CorpClient
from jitlite.wecom.context import WeComContext


def test_hosts_come_from_settings(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="hosts", settings={"wecomBaseUrl": "http://127.0.0.1:9/", "httpTimeout": 3})
    context = WeComContext.of(jitlite.App(root, environ={}))
    options = context.client_options()
    assert options["base_url"] == "http://127.0.0.1:9"
    assert options["timeout"] == 3.0
    assert context.client_options(wechat=True)["base_url"] == "https://api.weixin.qq.com"
    assert context.host("wecomLoginBaseUrl") == "https://login.work.weixin.qq.com"


def test_tickets_survive_a_restart_and_never_go_back_in_time(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="tickets")
    tickets = WeComContext.of(jitlite.App(root, environ={})).tickets
    now = time.time()
    tickets.save("tj1", "newer", now)
    tickets.save("tj1", "older", now - 60)  # a retried push arriving late
    tickets.save("tj2", "other", now)
    restarted = WeComContext.of(jitlite.App(root, environ={})).tickets
    assert restarted.latest("tj1") == ("newer", restarted.latest("tj1")[1])  # type: ignore[index]
    assert abs(restarted.latest("tj1")[1] - now) < 0.01  # type: ignore[index]
    restarted.save("tj1", "newest", now + 600)
    assert restarted.latest("tj1")[0] == "newest"  # type: ignore[index]
    assert restarted.latest("tj3") is None


def test_one_gettoken_for_many_threads_through_the_app_cache(make_app: Callable[..., Path]) -> None:
    calls: list[httpx.Request] = []
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/gettoken":
            with lock:
                calls.append(request)
            time.sleep(0.05)
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "access_token": "T", "expires_in": 7200})
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "department": []})

    app = jitlite.App(make_app({}, app_id="tokens"), environ={})
    app.httpTransport = httpx.MockTransport(handler)
    context = WeComContext.of(app)
    client = CorpClient("ww1", "corp-secret", 1000002, **context.client_options())
    threads = [threading.Thread(target=client.department.simplelist) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1
    cached = app.getElement("caches.Default").keys("*")
    assert cached and not any("corp-secret" in key for key in cached)
