"""AuthService's provider-neutral identities: ensureUser, bindIdentity, unbindIdentity, one owner each."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite.meta.auths import (
    WECHAT,
    WECOM,
    Identity,
    IdentityConflict,
    IdentityNotBound,
    RegistrationClosed,
    UnknownUser,
)
from jitlite.runtime.errcode import Code
from jitlite.wecom.errors import ConfigurationError, LoginRestartRequired, TokenExpiredError, error_for


@pytest.fixture
def auth(make_app: Callable[..., Path]) -> Any:
    return jitlite.App(make_app({}, app_id="identities"), environ={}).getElement("auths.services.AuthService")


def wechat(open_id: str, app_id: str = "wxA", union_id: str | None = None, **profile: Any) -> Identity:
    return Identity(WECHAT, app_id, open_id, unionId=union_id, profile=profile)


def test_first_login_creates_the_user_and_later_ones_find_it(auth: Any) -> None:
    first = auth.ensureUser(wechat("o1", union_id="u1", name="Alice", avatar="https://a.example/a.png"))
    again = auth.ensureUser(wechat("o1", union_id="u1", name="Alice (new nickname)"))
    assert again.userId == first.userId and first.name == "Alice" and first.avatar == "https://a.example/a.png"
    # A WeChat nickname never replaces a name the user has; a WeCom member's directory data does.
    assert again.name == "Alice"
    member = auth.ensureUser(Identity(WECOM, "wwA", "alice", profile={"name": "艾丽斯"}))
    renamed = auth.ensureUser(Identity(WECOM, "wwA", "alice", profile={"name": "艾丽斯(改)"}))
    assert renamed.userId == member.userId and renamed.name == "艾丽斯(改)"
    assert auth.users.query()["totalCount"] == 2
    assert auth.findUser(wechat("o1")).userId == first.userId and auth.findUser(wechat("o2")) is None


def test_a_union_id_finds_the_user_through_another_app(auth: Any) -> None:
    user = auth.ensureUser(wechat("openid-in-A", "wxA", union_id="person-1"))
    same = auth.ensureUser(wechat("openid-in-B", "wxB", union_id="person-1"))
    assert same.userId == user.userId
    assert sorted(i["appId"] for i in auth.identitiesOf(user.userId, WECHAT)) == ["wxA", "wxB"]
    other = auth.ensureUser(wechat("openid-in-B2", "wxB", union_id="person-2"))
    assert other.userId != user.userId


def test_registration_can_be_closed(auth: Any) -> None:
    with pytest.raises(RegistrationClosed, match="does not let new users register"):
        auth.ensureUser(wechat("o-new"), register=False)
    assert auth.users.query()["totalCount"] == 0
    user = auth.createUser(name="Bob")
    auth.bindIdentity(user.userId, wechat("o-new"))
    assert auth.ensureUser(wechat("o-new"), register=False).userId == user.userId


def test_bind_rules(auth: Any) -> None:
    alice, bob = auth.createUser(name="Alice"), auth.createUser(name="Bob")
    binding = auth.bindIdentity(alice.userId, wechat("oa", union_id="ua"))
    assert binding == {"provider": WECHAT, "appId": "wxA", "externalId": "oa", "unionId": "ua", "userId": alice.userId}
    assert auth.bindIdentity(alice.userId, wechat("oa", union_id="ua"))["userId"] == alice.userId  # idempotent
    with pytest.raises(IdentityConflict, match="already bound to another user"):
        auth.bindIdentity(bob.userId, wechat("oa"))
    with pytest.raises(IdentityConflict, match="already bound to another user"):  # the same person via app B
        auth.bindIdentity(bob.userId, wechat("ob", "wxB", union_id="ua"))
    with pytest.raises(IdentityConflict, match="already has another wechat account bound in app wxA"):
        auth.bindIdentity(alice.userId, wechat("oa2"))
    with pytest.raises(UnknownUser, match="no user has the userId 'nobody'"):
        auth.bindIdentity("nobody", wechat("oz"))
    # WeCom members too: per corp.
    auth.bindIdentity(alice.userId, Identity(WECOM, "wwA", "alice"))
    with pytest.raises(IdentityConflict):
        auth.bindIdentity(bob.userId, Identity(WECOM, "wwA", "alice"))
    assert auth.ensureWeComUser("wwA", "alice").userId == alice.userId


def test_unbind_rules(auth: Any) -> None:
    user = auth.createUser(name="Carol")
    auth.bindIdentity(user.userId, wechat("oc"))
    assert auth.unbindIdentity(user.userId, WECHAT, "wxA") == 1
    assert auth.findUser(wechat("oc")) is None
    with pytest.raises(IdentityNotBound, match="has no wechat account bound in app wxA"):
        auth.unbindIdentity(user.userId, WECHAT, "wxA")
    with pytest.raises(UnknownUser):
        auth.unbindIdentity("nobody", WECHAT, "wxA")
    auth.ensureWeComUser("wwA", "carol")
    owner = auth.findUser(Identity(WECOM, "wwA", "carol"))
    assert auth.unbindIdentity(owner.userId, WECOM, "wwA") == 1 and auth.identitiesOf(owner.userId) == []


@pytest.mark.parametrize("identity", [wechat("o-race", union_id="u-race"), Identity(WECOM, "wwR", "racer")],
                         ids=["wechat", "wecom"])
def test_concurrent_first_logins_make_one_user(auth: Any, identity: Identity) -> None:
    results: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(6)

    def login() -> None:
        barrier.wait()
        try:
            results.append(auth.ensureUser(identity).userId)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=login) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors and len(results) == 6 and len(set(results)) == 1
    assert auth.users.query()["totalCount"] == 1


def test_identity_values_are_checked_and_details_never_shown() -> None:
    with pytest.raises(ValueError, match="appId must be a non-empty string"):
        Identity(WECHAT, "", "o1")
    with pytest.raises(ValueError, match="unionId must be None or a non-empty string"):
        Identity(WECHAT, "wx", "o1", unionId="")
    identity = Identity(WECHAT, "wx", "o1", details={"refresh_token": "secret-refresh"})
    assert "secret-refresh" not in repr(identity) and identity.corpId is None
    assert Identity(WECOM, "wwA", "u").corpId == "wwA"


def test_wecom_api_errors_are_jitai_codes() -> None:
    error = error_for(40013, "invalid corpid", "cgi-bin/gettoken")
    assert isinstance(error, ConfigurationError) and isinstance(error, Code)
    assert error.code == 40013 and "40013" in str(error) and str(error).startswith("40013")
    for code, kind in ((40029, LoginRestartRequired), (42001, TokenExpiredError), (60020, ConfigurationError)):
        caught = error_for(code, "x", "cgi-bin/auth/getuserinfo")
        assert isinstance(caught, kind) and isinstance(caught, Code) and caught.code == code
        assert str(code) in str(caught)
    assert error.formatReason().code == 40013
