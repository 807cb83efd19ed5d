"""LoginStates on the memory, SQLite and Redis caches: single use, expiry, binding and the bound."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jitlite.cache import Cache, MemoryCache, MemoryStore, RedisCache, SqliteCache
from jitlite.meta.login_states import DEFAULT_STATE_LIMIT, DEFAULT_STATE_TTL, LoginStates
from jitlite.runtime import clock
from jitlite.runtime.errors import LoginStateInvalid

SCOPE = "auths.SomeLogin"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cache]:
    """A cache of each backend, in a namespace of its own."""
    namespace = f"states-{uuid.uuid4().hex[:10]}"
    made: Cache
    if request.param == "memory":
        made = MemoryCache(namespace, store=MemoryStore())
    elif request.param == "sqlite":
        made = SqliteCache(tmp_path / "cache.db", namespace)
    else:
        url = os.environ.get("JITLITE_TEST_REDIS_URL", "")
        if not url:
            if os.environ.get("CI") == "true":
                pytest.fail("JITLITE_TEST_REDIS_URL must be set on CI")
            pytest.skip("JITLITE_TEST_REDIS_URL is not set")
        made = RedisCache(url, namespace)
    yield made
    if isinstance(made, RedisCache):
        keys = list(made.client.scan_iter(match=f"{namespace}:*"))
        if keys:
            made.client.delete(*keys)
    made.close()


def test_a_state_is_spent_once_and_returns_its_binding(cache: Cache) -> None:
    states = LoginStates(cache, SCOPE)
    state = states.issue(corpId="wwcorp")
    assert state.isalnum() and len(state) == 48  # WeCom takes only [a-zA-Z0-9] in state
    assert states.consume(state, corpId="wwcorp") == {"corpId": "wwcorp"}
    with pytest.raises(LoginStateInvalid):
        states.consume(state, corpId="wwcorp")
    # The cache holds digests, never the state itself.
    assert not any(state in name for name in cache.keys("*"))


def test_concurrent_uses_of_one_state_have_one_winner(cache: Cache) -> None:
    states = LoginStates(cache, SCOPE)
    state = states.issue()
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def use(i: int) -> None:
        barrier.wait(5)
        try:
            states.consume(state)
            wins.append(i)
        except LoginStateInvalid:
            pass

    threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(wins) == 1


def test_states_expire_on_jitlites_clock(cache: Cache) -> None:
    states = LoginStates(cache, SCOPE, ttl=60)
    start = clock.now()
    fresh, stale = states.issue(), states.issue()
    with clock.use_clock(lambda: start + 59):
        states.consume(fresh)
    with clock.use_clock(lambda: start + 61), pytest.raises(LoginStateInvalid):
        states.consume(stale)


def test_binding_mismatch_refuses_and_spends_the_state(cache: Cache) -> None:
    states = LoginStates(cache, SCOPE)
    state = states.issue(corpId="wwone")
    with pytest.raises(LoginStateInvalid, match="another corpId"):
        states.consume(state, corpId="wwtwo")
    with pytest.raises(LoginStateInvalid):
        states.consume(state, corpId="wwone")
    unbound = states.issue(corpId=None)
    assert states.consume(unbound, corpId="wwany") == {"corpId": None}
    # Trusted server code may skip the check by passing None.
    assert states.consume(states.issue(corpId="wwone"), corpId=None) == {"corpId": "wwone"}


def test_scopes_do_not_share_states(cache: Cache) -> None:
    state = LoginStates(cache, "auths.LoginA").issue()
    with pytest.raises(LoginStateInvalid):
        LoginStates(cache, "auths.LoginB").consume(state)
    LoginStates(cache, "auths.LoginA").consume(state)


@pytest.mark.parametrize("bad", [None, 42, "", "x" * 129, ["a"], "\ud800", "f" * 48])
def test_anything_but_an_issued_state_is_refused(cache: Cache, bad: Any) -> None:
    with pytest.raises(LoginStateInvalid):
        LoginStates(cache, SCOPE).consume(bad)


def test_outstanding_states_are_bounded_and_the_oldest_evicted(cache: Cache) -> None:
    states = LoginStates(cache, SCOPE, limit=5)
    issued = [states.issue(corpId=f"c{i}") for i in range(50)]
    assert len(cache.keys(f"loginState:{SCOPE}:*")) <= 2 * 5 + 1
    for old in issued[:45]:
        with pytest.raises(LoginStateInvalid):
            states.consume(old)
    for i, newest in enumerate(issued[45:], start=45):
        assert states.consume(newest) == {"corpId": f"c{i}"}
    # Another scope has its own ring: filling it evicts nothing here.
    kept = states.issue()
    other = LoginStates(cache, "auths.Other", limit=5)
    for _ in range(20):
        other.issue()
    states.consume(kept)


def test_settings_configure_ttl_and_limit_and_bad_values_name_the_setting() -> None:
    store = MemoryCache("settings", store=MemoryStore())

    def element(**settings: Any) -> Any:
        return SimpleNamespace(app=SimpleNamespace(settings=settings, defaultCache=lambda: store), fullName=SCOPE)

    default = LoginStates.of(element())
    assert (default.ttl, default.limit, default.scope) == (DEFAULT_STATE_TTL, DEFAULT_STATE_LIMIT, SCOPE)
    custom = LoginStates.of(element(loginStateTtlSeconds=30, loginStateLimit=7))
    assert (custom.ttl, custom.limit) == (30, 7)
    for name, value in (("loginStateLimit", 0), ("loginStateLimit", 2.5), ("loginStateLimit", "10"),
                        ("loginStateTtlSeconds", -1), ("loginStateTtlSeconds", float("inf")),
                        ("loginStateTtlSeconds", True)):
        with pytest.raises(ValueError, match=name):
            LoginStates.of(element(**{name: value}))
