"""Token caching, single-flight refresh, refresh-and-retry-once, busy backoff and the 45009 circuit."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from jitlite.wecom import (
    ConfigurationError,
    CorpClient,
    Credential,
    LocalTokenCache,
    LoginRestartRequired,
    MemoryTicketStore,
    NotFoundOrOutOfScope,
    RateLimitedError,
    SuiteClient,
    SuiteTicketMissing,
    TokenExpiredError,
    TokenManager,
    UpstreamBusyError,
    WeComError,
)

OK = {"errcode": 0, "errmsg": "ok"}


class Upstream:
    """A scripted fake WeCom: per-path queues of responses plus a log of every request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.scripts: dict[str, list[dict[str, Any] | int]] = {}
        self.token_counter = 0
        self.gettoken_delay = 0.0

    def script(self, path: str, *responses: dict[str, Any] | int) -> None:
        self.scripts.setdefault(path, []).extend(responses)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for logged, _ in self.log if logged == path)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        params = dict(request.url.params)
        with self.lock:
            self.log.append((path, params))
            queued = self.scripts.get(path)
            scripted = queued.pop(0) if queued else None
        if path == "/cgi-bin/gettoken" and scripted is None:
            time.sleep(self.gettoken_delay)  # widen the window in which racing threads could refetch
            with self.lock:
                self.token_counter += 1
                token = f"{params['corpid']}-T{self.token_counter}"
            return httpx.Response(200, json={**OK, "access_token": token, "expires_in": 7200})
        if isinstance(scripted, int):
            return httpx.Response(scripted, text="upstream error")
        if scripted is not None:
            return httpx.Response(200, json=scripted)
        return httpx.Response(200, json={**OK, "department_id": [{"id": 1}], "echo": params.get("access_token")})


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def make_corp(upstream: Upstream, tokens: TokenManager) -> Iterator[Callable[..., CorpClient]]:
    made: list[CorpClient] = []

    def make(corp_id: str = "wwA", secret: str = "secret-A-123456", manager: TokenManager | None = None) -> CorpClient:
        client = CorpClient(
            corp_id, secret, 1000002, transport=httpx.MockTransport(upstream.handler), tokens=manager or tokens
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def test_token_is_cached_until_the_safety_margin(
    make_corp: Callable[..., CorpClient], upstream: Upstream, clock: Any
) -> None:
    corp = make_corp()
    for _ in range(3):
        corp.department.simplelist()
    assert upstream.count("/cgi-bin/gettoken") == 1
    clock.advance(7200 - 300 - 1)  # still inside expires_in minus the 5-minute margin
    corp.department.simplelist()
    assert upstream.count("/cgi-bin/gettoken") == 1
    clock.advance(2)  # now within the margin: refresh early
    corp.department.simplelist()
    assert upstream.count("/cgi-bin/gettoken") == 2


def test_fifty_threads_with_an_expired_token_cause_exactly_one_gettoken(
    make_corp: Callable[..., CorpClient], upstream: Upstream, clock: Any
) -> None:
    corp = make_corp()
    corp.department.simplelist()
    assert upstream.count("/cgi-bin/gettoken") == 1
    clock.advance(7200)  # the cached token is now expired
    upstream.gettoken_delay = 0.05
    barrier = threading.Barrier(50)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(corp.department.simplelist())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert len(results) == 50
    assert upstream.count("/cgi-bin/gettoken") == 2  # the first fetch plus exactly one refresh
    used = Counter(params["access_token"] for path, params in upstream.log if path.endswith("simplelist"))
    assert used["wwA-T2"] == 50


def test_40014_mid_call_refreshes_once_and_succeeds(make_corp: Callable[..., CorpClient], upstream: Upstream) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/department/simplelist", {"errcode": 40014, "errmsg": "invalid access_token"})
    assert corp.department.simplelist() == [{"id": 1}]
    calls = [(path, params.get("access_token")) for path, params in upstream.log]
    assert calls == [
        ("/cgi-bin/gettoken", None),
        ("/cgi-bin/department/simplelist", "wwA-T1"),
        ("/cgi-bin/gettoken", None),
        ("/cgi-bin/department/simplelist", "wwA-T2"),
    ]


@pytest.mark.parametrize("errcode", [40014, 42001, 40001, 40082, 42009])
def test_a_second_token_rejection_fails_without_looping(
    make_corp: Callable[..., CorpClient], upstream: Upstream, errcode: int
) -> None:
    corp = make_corp()
    rejection = {"errcode": errcode, "errmsg": "token rejected"}
    upstream.script("/cgi-bin/department/simplelist", rejection, rejection, rejection)
    with pytest.raises(TokenExpiredError) as info:
        corp.department.simplelist()
    assert info.value.errcode == errcode
    assert upstream.count("/cgi-bin/department/simplelist") == 2
    assert upstream.count("/cgi-bin/gettoken") == 2


def test_40001_on_gettoken_is_a_configuration_error_not_a_retry(
    make_corp: Callable[..., CorpClient], upstream: Upstream
) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/gettoken", {"errcode": 40001, "errmsg": "invalid credential"})
    with pytest.raises(ConfigurationError, match="secret is wrong") as info:
        corp.department.simplelist()
    assert info.value.endpoint == "cgi-bin/gettoken"
    assert upstream.count("/cgi-bin/gettoken") == 1
    assert upstream.count("/cgi-bin/department/simplelist") == 0


def test_60020_says_what_to_fix(make_corp: Callable[..., CorpClient], upstream: Upstream) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/gettoken", {"errcode": 60020, "errmsg": "not allow to access from your ip"})
    with pytest.raises(ConfigurationError) as info:
        corp.access_token()
    assert str(info.value).startswith(
        "60020: this server's IP is not in the app's trusted IP list — add it in the WeCom admin console "
        "under the app's 企业可信IP"
    )
    assert upstream.count("/cgi-bin/gettoken") == 1


@pytest.mark.parametrize(
    ("errcode", "error"),
    [(40029, LoginRestartRequired), (60011, NotFoundOrOutOfScope), (48002, ConfigurationError)],
)
def test_non_retryable_errors_fail_at_once(
    make_corp: Callable[..., CorpClient], upstream: Upstream, errcode: int, error: type[Exception]
) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/auth/getuserinfo", {"errcode": errcode, "errmsg": "nope"})
    with pytest.raises(error):
        corp.oauth.getuserinfo("CODE")
    assert upstream.count("/cgi-bin/auth/getuserinfo") == 1


@pytest.mark.parametrize("busy", [{"errcode": -1, "errmsg": "system busy"}, 502, {"errcode": 45033, "errmsg": "x"}])
def test_busy_is_retried_with_jittered_backoff_at_most_three_tries(
    make_corp: Callable[..., CorpClient], upstream: Upstream, sleeps: list[float], busy: Any
) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/department/simplelist", busy, busy, busy, busy)
    with pytest.raises((UpstreamBusyError, RateLimitedError)):
        corp.department.simplelist()
    assert upstream.count("/cgi-bin/department/simplelist") == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, equal jitter
    assert 0.5 <= sleeps[1] <= 1.0


def test_busy_then_success(make_corp: Callable[..., CorpClient], upstream: Upstream, sleeps: list[float]) -> None:
    corp = make_corp()
    busy = {"errcode": -1, "errmsg": "system busy"}
    upstream.script("/cgi-bin/department/simplelist", busy, busy)
    assert corp.department.simplelist() == [{"id": 1}]
    assert upstream.count("/cgi-bin/department/simplelist") == 3
    assert len(sleeps) == 2


def test_backoff_is_jittered_and_capped() -> None:
    manager = TokenManager(LocalTokenCache(), rng=random.Random(1), backoff_base=1.0, backoff_cap=4.0)
    delays = [manager.backoff_delay(attempt) for attempt in range(1, 8)]
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, never identical
    assert all(0.5 <= d <= 4.0 for d in delays)
    assert all(2.0 <= d <= 4.0 for d in delays[3:])  # capped at 4 s


def test_45009_stops_calls_for_that_corp_only(
    make_corp: Callable[..., CorpClient], upstream: Upstream, clock: Any, sleeps: list[float]
) -> None:
    corp_a = make_corp("wwA", "secret-A-123456")
    corp_b = make_corp("wwB", "secret-B-123456")
    upstream.script("/cgi-bin/department/simplelist", {"errcode": 45009, "errmsg": "api freq out of limit"})
    with pytest.raises(RateLimitedError) as first:
        corp_a.department.simplelist()
    assert first.value.errcode == 45009
    assert first.value.retry_after == pytest.approx(60)
    assert sleeps == []  # never retried
    before = len(upstream.log)
    with pytest.raises(RateLimitedError, match="paused"):
        corp_a.department.simplelist()
    with pytest.raises(RateLimitedError):
        corp_a.user.get("zhangsan")
    assert len(upstream.log) == before  # refused locally, no request sent
    assert corp_b.department.simplelist() == [{"id": 1}]  # the other corp is unaffected
    clock.advance(61)
    assert corp_a.department.simplelist() == [{"id": 1}]


def test_the_circuit_is_shared_through_the_cache(
    make_corp: Callable[..., CorpClient], upstream: Upstream, cache: LocalTokenCache, clock: Any
) -> None:
    corp = make_corp()
    upstream.script("/cgi-bin/department/simplelist", {"errcode": 45009, "errmsg": "freq"})
    with pytest.raises(RateLimitedError):
        corp.department.simplelist()
    # Another process: its own TokenManager and client, the same cache backend.
    other_manager = TokenManager(cache, clock=clock)
    other = make_corp(manager=other_manager)
    before = len(upstream.log)
    with pytest.raises(RateLimitedError):
        other.department.simplelist()
    assert len(upstream.log) == before


def test_circuit_must_last_at_least_sixty_seconds() -> None:
    with pytest.raises(ValueError, match="60"):
        TokenManager(LocalTokenCache(), circuit_seconds=30)


def test_tokens_are_keyed_by_corp_agent_and_secret_hash(
    make_corp: Callable[..., CorpClient], upstream: Upstream, cache: LocalTokenCache
) -> None:
    one = Credential.of("corp", "wwA", "secret-one-000000", 1000002)
    two = Credential.of("corp", "wwA", "secret-two-000000", 1000002)
    agent = Credential.of("corp", "wwA", "secret-one-000000", 1000003)
    assert len({one.cache_key, two.cache_key, agent.cache_key}) == 3
    for credential, secret in ((one, "secret-one-000000"), (two, "secret-two-000000")):
        for size in range(4, len(secret) + 1):
            assert secret[:size] not in credential.cache_key  # never a prefix of the secret
        assert secret not in repr(credential)
    corp = make_corp(secret="secret-A-123456")
    corp.department.simplelist()
    keys = list(cache._data)  # the cache as another backend would see it
    assert any(key.startswith("jitlite:wecom:token:corp:wwA:1000002:") for key in keys)
    assert all("secret-A" not in key for key in keys)


def test_invalidate_keeps_a_token_that_was_already_refreshed(tokens: TokenManager) -> None:
    credential = Credential.of("corp", "wwA", "secret-A-123456")
    fetched = iter([("T1", 7200.0), ("T2", 7200.0)])
    assert tokens.get_token(credential, lambda: next(fetched)) == "T1"
    tokens.invalidate(credential, "T1")
    assert tokens.get_token(credential, lambda: next(fetched)) == "T2"
    tokens.invalidate(credential, "T1")  # a late failure with the old token must not drop T2
    assert tokens.get_token(credential, lambda: ("T3", 7200.0)) == "T2"


def test_short_lived_tokens_are_still_cached(tokens: TokenManager, clock: Any) -> None:
    credential = Credential.of("suite", "ww1", "s3cr3t-value")
    calls = []

    def fetch() -> tuple[str, float]:
        calls.append(1)
        return f"T{len(calls)}", 60.0

    assert tokens.get_token(credential, fetch) == "T1"
    clock.advance(29)
    assert tokens.get_token(credential, fetch) == "T1"
    clock.advance(2)
    assert tokens.get_token(credential, fetch) == "T2"


def test_lock_timeout_is_reported(clock: Any) -> None:
    cache = LocalTokenCache(clock)
    manager = TokenManager(cache, clock=clock, lock_ttl=0.05)
    credential = Credential.of("corp", "wwA", "secret-A-123456")
    with cache.lock(credential.cache_key + ":lock", 1), pytest.raises(WeComError, match="timed out"):
        manager.get_token(credential, lambda: ("T", 7200.0))


def test_suite_token_needs_a_ticket(tokens: TokenManager, ids: SimpleNamespace) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"suite_access_token": "ST", "expires_in": 7200})

    store = MemoryTicketStore()
    with SuiteClient(
        ids.SUITE_ID, ids.SUITE_SECRET, store, transport=httpx.MockTransport(handler), tokens=tokens
    ) as suite:
        with pytest.raises(SuiteTicketMissing) as info:
            suite.service.get_pre_auth_code()
        assert str(info.value) == (
            f"no suite_ticket received yet for suite {ids.SUITE_ID}: WeCom pushes one every 10 minutes to "
            "the callback URL; check the callback URL is reachable"
        )
        assert sent == []
        store.save(ids.SUITE_ID, "TICKET-1", 100.0)
        assert suite.access_token() == "ST"
        assert sent == ["/cgi-bin/service/get_suite_token"]


def test_credentials_reject_empty_parts() -> None:
    with pytest.raises(ValueError, match="secret"):
        Credential.of("corp", "wwA", "")
    with pytest.raises(ValueError, match="id"):
        Credential.of("corp", "", "x")
    with pytest.raises(ValueError, match="kind"):
        Credential.of("bogus", "wwA", "x")
