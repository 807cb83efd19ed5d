"""Fault injection: errcodes, latency, HTTP errors and dropped connections, per endpoint path."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from jitlite.sandbox.defaults import DEFAULT_AGENT_SECRET, DEFAULT_CORP_ID
from jitlite.sandbox.errors import SandboxError
from jitlite.sandbox.server import SandboxServer
from jitlite.sandbox.testing import Sandbox

ApiT = Any
GETTOKEN = {"corpid": DEFAULT_CORP_ID, "corpsecret": DEFAULT_AGENT_SECRET}


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
def test_errcode_for_the_next_calls(api: ApiT, errcode: int) -> None:
    api.state.add_fault("/cgi-bin/gettoken", errcode=errcode, times=2)
    first = api.get("/cgi-bin/gettoken", **GETTOKEN)
    assert first["errcode"] == errcode and first["errmsg"]
    assert api.get("/cgi-bin/gettoken", **GETTOKEN)["errcode"] == errcode
    assert api.get("/cgi-bin/gettoken", **GETTOKEN)["errcode"] == 0
    assert api.state.faults() == []


def test_fault_always_until_cleared_and_only_on_its_path(api: ApiT) -> None:
    token = api.corp_token()
    api.state.add_fault("/cgi-bin/user/*", errcode=-1)
    for _ in range(3):
        assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == -1
    assert api.get("/cgi-bin/department/list", access_token=token)["errcode"] == 0
    assert api.state.faults()[0].hits == 3
    assert api.state.clear_faults("/cgi-bin/user/*") == 1
    assert api.get("/cgi-bin/user/get", access_token=token, userid="lina")["errcode"] == 0


def test_latency_delays_a_normal_answer(api: ApiT) -> None:
    api.state.add_fault("/cgi-bin/gettoken", latency=0.2, times=1)
    started = time.monotonic()
    assert api.get("/cgi-bin/gettoken", **GETTOKEN)["errcode"] == 0
    assert time.monotonic() - started >= 0.2
    assert api.state.faults() == []  # spent: the next call is not delayed


def test_latency_combines_with_an_errcode(api: ApiT) -> None:
    api.state.add_fault("/sns/*", latency=0.1, times=1)
    api.state.add_fault("/sns/*", errcode=45009, times=1)
    started = time.monotonic()
    assert api.get("/sns/userinfo", access_token="x", openid="y")["errcode"] == 45009
    assert time.monotonic() - started >= 0.1


def test_http_error_status(sandbox: Sandbox) -> None:
    sandbox.state.add_fault("/cgi-bin/gettoken", http_status=503, times=1)
    with sandbox.client() as client:
        response = client.get("/cgi-bin/gettoken", params=GETTOKEN)
        assert response.status_code == 503 and "HTTP 503" in response.text
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).status_code == 200


def test_drop_in_process_looks_like_a_dropped_connection(sandbox: Sandbox) -> None:
    sandbox.state.add_fault("/cgi-bin/gettoken", drop=True, times=1)
    with sandbox.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/cgi-bin/gettoken", params=GETTOKEN)
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).json()["errcode"] == 0
    [dropped, answered] = sandbox.state.request_log("/cgi-bin/gettoken")
    assert dropped.fault == "drop" and answered.fault is None


def test_drop_over_real_http(sandbox_state: Any) -> None:
    with SandboxServer(sandbox_state) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        sandbox_state.add_fault("/cgi-bin/gettoken", drop=True, times=1)
        with pytest.raises(httpx.TransportError):
            client.get("/cgi-bin/gettoken", params=GETTOKEN)
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).json()["errcode"] == 0


def test_faults_never_touch_the_admin_api(sandbox: Sandbox) -> None:
    sandbox.state.add_fault("*", errcode=-1)
    with sandbox.client() as client:
        assert client.get("/sandbox/faults").json()["faults"][0]["path"] == "*"
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).json()["errcode"] == -1
        assert client.delete("/sandbox/faults").json() == {"ok": True, "removed": 1}
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).json()["errcode"] == 0


def test_fault_arguments_are_checked(api: ApiT) -> None:
    for kwargs in ({}, {"errcode": -1, "drop": True}, {"http_status": 200}, {"latency": -1.0},
                   {"errcode": -1, "times": 0}):
        with pytest.raises(SandboxError):
            api.state.add_fault("/cgi-bin/gettoken", **kwargs)


def test_faults_through_the_admin_api(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        added = client.post("/sandbox/faults", json={"path": "/cgi-bin/gettoken", "errcode": 45033,
                                                     "times": 1}).json()
        assert added["fault"]["kind"] == "errcode" and added["fault"]["remaining"] == 1
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).json()["errcode"] == 45033
        assert client.get("/sandbox/faults").json()["faults"] == []
        client.post("/sandbox/faults", json={"path": "/cgi-bin/gettoken", "http_status": 502})
        assert client.get("/cgi-bin/gettoken", params=GETTOKEN).status_code == 502
        bad = client.post("/sandbox/faults", json={"path": "/x", "errcode": 1, "latency": 1})
        assert bad.status_code == 400 and "exactly one" in bad.json()["error"]
