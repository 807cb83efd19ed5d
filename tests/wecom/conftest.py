"""Shared fixtures for the WeCom transport tests: a fake clock, recorded sleeps, clients, secrets."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from jitlite.wecom import (
    CorpClient,
    LocalTokenCache,
    MemoryTicketStore,
    ProviderClient,
    ProxyCorpClient,
    SuiteClient,
    TokenManager,
    WeChatClient,
)

WECOM = "https://qyapi.weixin.qq.com"
WECHAT = "https://api.weixin.qq.com"

CORP_ID = "ww0000000000corp"
CORP_SECRET = "corpSecret-9fK2mQ7xLp4Rt"
AGENT_ID = 1000002
AUTH_CORP_ID = "ww00000000authcorp"
PERMANENT_CODE = "permCode-Qw3Er5Ty7Ui9Op"
SUITE_ID = "ww00000000suite"
SUITE_SECRET = "suiteSecret-Zx8Cv6Bn4Mm2"
SUITE_TICKET = "ticket-As1Df3Gh5Jk7"
PROVIDER_CORP_ID = "ww00000000provider"
PROVIDER_SECRET = "providerSecret-Hy6Tg4Rf2"
APP_ID = "wx00000000app"
APP_SECRET = "appSecret-Lo9Ki7Ju5Hy3"

ALL_SECRETS = (CORP_SECRET, PERMANENT_CODE, SUITE_SECRET, SUITE_TICKET, PROVIDER_SECRET, APP_SECRET)

# Test modules cannot import conftest under --import-mode=importlib, so constants come from a fixture.
IDS = SimpleNamespace(
    WECOM=WECOM,
    WECHAT=WECHAT,
    CORP_ID=CORP_ID,
    CORP_SECRET=CORP_SECRET,
    AGENT_ID=AGENT_ID,
    AUTH_CORP_ID=AUTH_CORP_ID,
    PERMANENT_CODE=PERMANENT_CODE,
    SUITE_ID=SUITE_ID,
    SUITE_SECRET=SUITE_SECRET,
    SUITE_TICKET=SUITE_TICKET,
    PROVIDER_CORP_ID=PROVIDER_CORP_ID,
    PROVIDER_SECRET=PROVIDER_SECRET,
    APP_ID=APP_ID,
    APP_SECRET=APP_SECRET,
    ALL_SECRETS=ALL_SECRETS,
)


@pytest.fixture
def ids() -> SimpleNamespace:
    return IDS


class FakeClock:
    """A settable clock standing in for time.time."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def cache(clock: FakeClock) -> LocalTokenCache:
    return LocalTokenCache(clock)


@pytest.fixture
def tokens(cache: LocalTokenCache, clock: FakeClock, sleeps: list[float]) -> TokenManager:
    return TokenManager(cache, clock=clock, sleep=sleeps.append, rng=random.Random(7))


@pytest.fixture
def corp(tokens: TokenManager) -> Iterator[CorpClient]:
    with CorpClient(CORP_ID, CORP_SECRET, AGENT_ID, tokens=tokens) as client:
        yield client


@pytest.fixture
def proxy_corp(tokens: TokenManager) -> Iterator[ProxyCorpClient]:
    with ProxyCorpClient(AUTH_CORP_ID, PERMANENT_CODE, 1000003, tokens=tokens) as client:
        yield client


@pytest.fixture
def tickets(clock: FakeClock) -> MemoryTicketStore:
    store = MemoryTicketStore()
    store.save(SUITE_ID, SUITE_TICKET, clock())
    return store


@pytest.fixture
def suite(tokens: TokenManager, tickets: MemoryTicketStore) -> Iterator[SuiteClient]:
    with SuiteClient(SUITE_ID, SUITE_SECRET, tickets, tokens=tokens) as client:
        yield client


@pytest.fixture
def provider(tokens: TokenManager) -> Iterator[ProviderClient]:
    with ProviderClient(PROVIDER_CORP_ID, PROVIDER_SECRET, tokens=tokens) as client:
        yield client


@pytest.fixture
def wechat(tokens: TokenManager) -> Iterator[WeChatClient]:
    with WeChatClient(APP_ID, APP_SECRET, tokens=tokens) as client:
        yield client


def _assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text, f"secret leaked into {text!r}"


@pytest.fixture
def assert_no_secrets() -> Callable[..., None]:
    """Return a checker failing if any test secret appears in any of the given texts."""
    return _assert_no_secrets
