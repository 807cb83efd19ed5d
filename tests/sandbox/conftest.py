"""Fixtures for the sandbox tests: the plugin's `sandbox`, an API helper and wechatpy decryption."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

from jitlite.sandbox.defaults import (
    DEFAULT_AGENT_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_PROVIDER_CORP_ID,
    DEFAULT_PROVIDER_SECRET,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_SECRET,
    DEFAULT_SUITE_TOKEN,
)
from jitlite.sandbox.testing import ReceivedPush, Sandbox, sandbox, sandbox_state

__all__ = ["sandbox", "sandbox_state"]


class Api:
    """Call the sandbox in process and return the JSON answers."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state
        self.client = sandbox.client()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """GET `path` with query `params` and return the JSON."""
        return self.client.get(path, params=params).json()

    def post(self, path: str, body: Any = None, **params: Any) -> dict[str, Any]:
        """POST JSON `body` to `path` with query `params` and return the JSON."""
        return self.client.post(path, params=params, json=body if body is not None else {}).json()

    def corp_token(self, corp_id: str = DEFAULT_CORP_ID, secret: str = DEFAULT_AGENT_SECRET) -> str:
        """Return a corp access_token from gettoken."""
        answer = self.get("/cgi-bin/gettoken", corpid=corp_id, corpsecret=secret)
        assert answer["errcode"] == 0, answer
        return str(answer["access_token"])

    def suite_token(self, suite_id: str = DEFAULT_SUITE_ID, secret: str = DEFAULT_SUITE_SECRET) -> str:
        """Return a suite_access_token, issuing a suite ticket first when there is none."""
        ticket = self.state.latest_suite_ticket(suite_id) or self.state.issue_suite_ticket(suite_id)
        answer = self.post("/cgi-bin/service/get_suite_token",
                           {"suite_id": suite_id, "suite_secret": secret, "suite_ticket": ticket.value})
        assert answer["errcode"] == 0, answer
        return str(answer["suite_access_token"])

    def provider_token(self) -> str:
        """Return a provider_access_token for the default provider."""
        answer = self.post("/cgi-bin/service/get_provider_token",
                           {"corpid": DEFAULT_PROVIDER_CORP_ID, "provider_secret": DEFAULT_PROVIDER_SECRET})
        assert answer["errcode"] == 0, answer
        return str(answer["provider_access_token"])

    def permanent_code(self, auth_code: str, suite_token: str | None = None) -> str:
        """Exchange an AuthCode for the permanent code."""
        answer = self.post("/cgi-bin/service/v2/get_permanent_code", {"auth_code": auth_code},
                           suite_access_token=suite_token or self.suite_token())
        assert answer["errcode"] == 0, answer
        return str(answer["permanent_code"])


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    """Return an API helper bound to the test's sandbox."""
    helper = Api(sandbox)
    yield helper
    helper.client.close()


Decrypt = Callable[..., dict[str, Any]]


@pytest.fixture
def decrypt() -> Decrypt:
    """Return a function that decrypts a received push with wechatpy, as WeCom's SDKs would."""

    def run(push: ReceivedPush, receive_id: str, token: str = DEFAULT_SUITE_TOKEN,
            key: str = DEFAULT_ENCODING_AES_KEY) -> dict[str, Any]:
        crypto = WeChatCrypto(token, key, receive_id)
        plaintext = crypto.decrypt_message(push.body, push.query["msg_signature"], push.query["timestamp"],
                                           push.query["nonce"])
        return dict(xmltodict.parse(plaintext)["xml"])

    return run


def envelope(push: ReceivedPush) -> dict[str, Any]:
    """Return the outer XML of a push (ToUserName, Encrypt, AgentID)."""
    return dict(xmltodict.parse(push.body)["xml"])


@pytest.fixture
def outer() -> Callable[[ReceivedPush], dict[str, Any]]:
    """Return a function that parses a push's envelope."""
    return envelope


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    """Return a plain httpx client for tests that talk to a real server."""
    with httpx.Client(timeout=5) as client:
        yield client
