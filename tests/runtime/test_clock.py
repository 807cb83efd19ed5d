"""One clock for every component: a test that freezes or moves time moves jitlite with it.

Each behaviour is checked twice: with time moved through ``jitlite.runtime.clock.use_clock`` and
with freezegun, the two ways a user's tests control time.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest
from freezegun import freeze_time

import jitlite
from jitlite import LoginCodeInvalid, LoginStateInvalid, SessionInvalid
from jitlite.cache import Cache, MemoryCache, MemoryStore, RedisCache, SqliteCache
from jitlite.runtime import clock
from jitlite.storage import Q
from jitlite.wecom import LocalTokenCache
from jitlite.wecom.tokens import Credential, TokenManager

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
PROXY_ELEMENT = {"title": "Proxy", "type": "auths.loginTypes.QywxProxyType"}
PROXY_CONFIG = {
    "authConfig": {
        "suiteId": "tj0001",
        "suiteSecret": "s3cret-suite",
        "encodingAESKey": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "token": "tok123",
    }
}


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class TimeMover(Protocol):
    def advance(self, seconds: float) -> None: ...


class InjectedClock:
    """A clock passed to ``clock.use_clock`` that only moves when told to."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FrozenTime:
    """freezegun's frozen time, moved with ``tick``."""

    def __init__(self, frozen: Any) -> None:
        self.frozen = frozen

    def advance(self, seconds: float) -> None:
        self.frozen.tick(timedelta(seconds=seconds))


@pytest.fixture(params=["use_clock", "freezegun"])
def moved(request: pytest.FixtureRequest) -> Iterator[TimeMover]:
    """Return time standing at START, moved only by ``advance``, by either mechanism."""
    if request.param == "use_clock":
        injected = InjectedClock(START)
        with clock.use_clock(injected):
            yield injected
    else:
        with freeze_time(utc(START)) as frozen:
            yield FrozenTime(frozen)


@pytest.fixture
def app(make_app: Callable[..., Path]) -> jitlite.App:
    """An app with the embedded SQLite database and cache, and a proxy-development login element."""
    return jitlite.App(
        make_app({"auths/Proxy/e.json": PROXY_ELEMENT, "auths/Proxy/Proxy.json": PROXY_CONFIG}, app_id="clock"),
        environ={},
    )


# --- the clock itself ----------------------------------------------------------------------------


def test_use_clock_is_read_at_call_time_and_restored() -> None:
    with clock.use_clock(lambda: START):
        assert clock.now() == START
        assert clock.utc_now() == utc(START) and clock.utc_now().tzinfo is timezone.utc
        with clock.use_clock(lambda: START + 5):
            assert clock.now() == START + 5
        assert clock.now() == START
    assert abs(clock.now() - time.time()) < 5


def test_freezegun_reaches_the_clock() -> None:
    with freeze_time("2024-01-01 00:00:00"):
        assert clock.now() == datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp()
        assert clock.utc_now() == datetime(2024, 1, 1, tzinfo=timezone.utc)


# --- login codes and sessions --------------------------------------------------------------------


def test_a_login_code_expires_when_time_moves_past_five_minutes(app: jitlite.App, moved: TimeMover) -> None:
    auth = app.getElement("auths.services.AuthService")
    user = auth.createUser(name="李四")
    early, late = auth.createLoginCode(user.userId), auth.createLoginCode(user.userId)
    assert auth.loginCodes.get(Q(userId=user.userId)).createdAt == utc(START)
    moved.advance(4 * 60 + 59)
    assert auth.exchangeLoginCode(early)["userId"] == user.userId
    moved.advance(2)  # five minutes and one second after both were issued
    with pytest.raises(LoginCodeInvalid, match="expired"):
        auth.exchangeLoginCode(late)


def test_a_session_expires_when_time_moves_past_its_ttl(app: jitlite.App, moved: TimeMover) -> None:
    auth = app.getElement("auths.services.AuthService")
    user = auth.createUser()
    session = auth.exchangeLoginCode(auth.createLoginCode(user.userId), platform="web")
    assert session["expiresAt"] == utc(START) + timedelta(days=1)
    moved.advance(24 * 3600 - 1)
    assert auth.getSession(session["token"])["userId"] == user.userId
    moved.advance(1)
    with pytest.raises(SessionInvalid):
        auth.getSession(session["token"])


def test_an_oauth_state_expires_with_the_clock(app: jitlite.App, moved: TimeMover) -> None:
    proxy = app.getElement("auths.Proxy")
    kept, expired = proxy.createState(), proxy.createState()
    moved.advance(599)
    proxy.consumeState(kept)
    moved.advance(2)
    with pytest.raises(LoginStateInvalid):
        proxy.consumeState(expired)


# --- caches and tokens ---------------------------------------------------------------------------


@pytest.fixture(params=["local", "memory", "sqlite", "redis"])
def token_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Return each cache a TokenManager runs on, built with its default clock."""
    if request.param == "local":
        yield LocalTokenCache()
    elif request.param == "memory":
        yield MemoryCache("clock", store=MemoryStore())
    elif request.param == "sqlite":
        sqlite = SqliteCache(tmp_path / "cache.db", "clock")
        yield sqlite
        sqlite.close()
    else:
        url = os.environ.get("JITLITE_TEST_REDIS_URL", "")
        if not url:
            if os.environ.get("CI") == "true":
                pytest.fail("JITLITE_TEST_REDIS_URL must be set on CI")
            pytest.skip("JITLITE_TEST_REDIS_URL is not set")
        cache = RedisCache(url, "clock" + secrets.token_hex(4))
        yield cache
        for name in cache.keys("*"):
            cache.delete(name)
        cache.close()


def test_a_cached_token_is_refreshed_after_its_ttl(token_cache: Any, moved: TimeMover) -> None:
    # Redis keeps its own TTLs on the server; the refresh still follows the clock because the
    # manager stores the token's refresh time with it and compares it with the clock.
    fetched: list[str] = []

    def fetch() -> tuple[str, float]:
        fetched.append(f"token-{len(fetched) + 1}")
        return fetched[-1], 7200.0

    manager = TokenManager(token_cache)
    credential = Credential.of("proxy_corp", "ww1", "permanent-code")
    assert manager.get_token(credential, fetch) == "token-1"
    moved.advance(7200 - 300 - 1)  # served until five minutes before it expires
    assert manager.get_token(credential, fetch) == "token-1"
    moved.advance(2)
    assert manager.get_token(credential, fetch) == "token-2"
    assert fetched == ["token-1", "token-2"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_memory_and_sqlite_cache_ttls_follow_the_clock(kind: str, tmp_path: Path, moved: TimeMover) -> None:
    cache: Cache = (
        MemoryCache("clock", store=MemoryStore()) if kind == "memory" else SqliteCache(tmp_path / "c.db", "clock")
    )
    cache.set("state", {"corpId": "ww1"}, 300)
    moved.advance(299)
    assert cache.get("state") == {"corpId": "ww1"} and 0 < (cache.ttl("state") or 0) <= 1
    moved.advance(1)
    assert cache.get("state") is None and not cache.exists("state")
    with cache.lock("refresh", ttl=30):
        moved.advance(31)  # a holder that outlives its lease loses the lock to the next caller
        with cache.lock("refresh", ttl=30, timeout=0.5):
            pass


# --- the proxy-development Type ------------------------------------------------------------------


def test_proxy_auth_events_are_stamped_and_ordered_by_the_clock(app: jitlite.App, moved: TimeMover) -> None:
    proxy = app.getElement("auths.Proxy")

    def row() -> Any:
        return proxy.authModel.get(Q(suiteId="tj0001", corpId="ww1"))

    proxy.applyCancelAuth("ww1", START - 10)
    first = row()
    assert (first.status, first.lastEventAt) == ("cancelled", utc(START - 10))
    assert first.cancelledAt == first.updatedAt == first.authorizedAt == utc(START)
    moved.advance(60)
    proxy.applyCancelAuth("ww1", START - 20)  # a late delivery of an older event is not applied
    assert row().updatedAt == utc(START) and row().lastEventAt == utc(START - 10)
    proxy.applyCancelAuth("ww1", START + 50)  # a newer event is, stamped with the moved clock
    assert row().lastEventAt == utc(START + 50)
    assert row().updatedAt == row().cancelledAt == utc(START + 60)
