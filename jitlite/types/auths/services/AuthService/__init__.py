"""``auths.services.AuthService``: users, their identities, one-time login codes and sessions.

Every login Type ends the same way: it finds or creates the system user behind a WeCom or WeChat
identity (``ensureUser``) and issues a one-time **login code**; the front end exchanges that code
(with the corp the user picked) for a **session token**. Codes and tokens are random, stored only as
SHA-256 hashes, expire, and are consumed or revoked with single conditional statements, so a race
has one winner.

Identities are provider-neutral (:class:`jitlite.meta.auths.Identity`): ``ensureUser``,
``bindIdentity`` and ``unbindIdentity`` work alike for a WeCom member (per corp) and a WeChat
account (per app, found by its unionId first). An identity belongs to at most one user, and a user
has at most one identity per provider and app.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from jitlite.meta.auths import (
    WECOM,
    Identity,
    IdentityConflict,
    IdentityNotBound,
    RegistrationClosed,
    UnknownUser,
)
from jitlite.meta.routes import PUBLIC, ApiFunctions
from jitlite.meta.services import Service
from jitlite.runtime import clock as runtime_clock
from jitlite.runtime.errors import LoginCodeInvalid, SessionInvalid
from jitlite.storage import Q, Row

from .links import IdentityLinks, LinkStore, WeComLinks

__all__ = ["LOGIN_CODE_TTL", "PLATFORMS", "AuthService", "LoginPlatform"]

LoginPlatform = Literal["app", "web", "mobile"]
PLATFORMS: tuple[str, ...] = ("app", "web", "mobile")
LOGIN_CODE_TTL = timedelta(minutes=5)
# How long a session lasts per platform; an app overrides them with settings.sessionTtlSeconds.
SESSION_TTL = {"web": timedelta(days=1), "app": timedelta(days=7), "mobile": timedelta(days=30)}


_PROFILE_FIELDS = frozenset({"name", "mobile", "email", "avatar"})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AuthService(Service):
    """Users and their identities, login codes and session tokens."""

    #: Over HTTP only the steps a front end takes with what it holds (a login code, a session
    #: token); users and identities are managed by server code.
    apiFunctions: ClassVar[ApiFunctions] = {"exchangeLoginCode": PUBLIC, "getSession": PUBLIC, "logout": PUBLIC}

    def clock(self) -> datetime:
        """Return the current time, timezone-aware UTC, from the app's one clock (``jitlite.runtime.clock``)."""
        # Read at every call, so freezegun and clock.use_clock move login codes and sessions too.
        return runtime_clock.utc_now()

    def onLoad(self) -> None:
        """Find the identity models (binding their tables)."""
        self.users = self.getElement("auths.models.UserModel")
        self.wecomIdentities = self.getElement("auths.models.WeComIdentityModel")
        self.identities = self.getElement("auths.models.IdentityModel")
        self.loginCodes = self.getElement("auths.models.LoginCodeModel")
        self.sessions = self.getElement("auths.models.SessionModel")

    # -- users and identities ------------------------------------------------------------------

    def createUser(self, **profile: Any) -> Row:
        """Create a system user with a fresh random userId and the given profile fields."""
        return self.users.create({**profile, "userId": "u_" + secrets.token_hex(12)})

    def getUser(self, userId: str) -> Row | None:
        """Return the system user with this id, or None."""
        return self.users.get(Q(userId=userId))

    def ensureWeComUser(
        self, corpId: str, wecomUserId: str, *, name: str | None = None, openUserId: str | None = None,
        mobile: str | None = None, email: str | None = None, avatar: str | None = None,
    ) -> Row:
        """Return the system user of a WeCom member, creating the user and the binding on first login."""
        profile = {k: v for k, v in (("name", name), ("mobile", mobile), ("email", email), ("avatar", avatar))
                   if v is not None}
        details = {"userid": wecomUserId, **({"open_userid": openUserId} if openUserId else {})}
        return self.ensureUser(Identity(WECOM, corpId, wecomUserId, profile=profile, details=details))

    def _links(self, provider: str) -> LinkStore:
        """Return where the provider's identities are bound (WeCom members per corp; others neutral)."""
        if provider == WECOM:
            return WeComLinks(self.wecomIdentities)
        return IdentityLinks(self.identities, provider)

    def findUser(self, identity: Identity) -> Row | None:
        """Return the system user an identity is bound to (a WeChat account by its unionId first), or None."""
        owner = self._links(identity.provider).owner(identity)
        return None if owner is None else self.getUser(owner)

    def ensureUser(self, identity: Identity, *, register: bool = True) -> Row:
        """Return the system user of an identity, binding it (and creating the user) on first login.

        A WeChat account is found by its unionId first (the same person through another app of the
        Open Platform account, whose binding then extends to this app), then by (appId, openId).
        Without a user and with ``register`` false, raise RegistrationClosed.
        """
        links = self._links(identity.provider)
        now = self.clock()
        owner = links.owner(identity)
        if owner is None:
            if not register:
                raise RegistrationClosed(
                    f"no user is bound to this {identity.provider} account and this app does not let new users "
                    "register (settings.allowRegistration is false); log in another way and bind the account")
            user = self.createUser(**{k: v for k, v in identity.profile.items() if k in _PROFILE_FIELDS})
            winner = links.link(user.userId, identity, now)
            if winner == user.userId:
                return user
            # Another first login of the same account won the binding: use its user, drop ours.
            self.users.deleteByFilter(Q(userId=user.userId))
            if winner is None:
                raise IdentityConflict(f"this {identity.provider} account could not be bound; log in again")
            return self._user(winner)
        row = links.find(identity)
        if row is None:
            # Known by its unionId through another app: this app's account joins the same user.
            bound = links.link(owner, identity, now)
            if bound != owner:
                raise IdentityConflict(f"this {identity.provider} account of app {identity.appId} cannot join the "
                                       "user of its unionId (that user has another account of this app, or it is "
                                       "bound to someone else); unbind one of them")
        else:
            links.touch(row, identity, now)
        self._update_profile(owner, identity, links.profile_overwrites, now)
        return self._user(owner)

    def bindIdentity(self, userId: str, identity: Identity) -> dict[str, Any]:
        """Bind an identity to an existing user; return the binding ``{provider, appId, externalId, unionId, userId}``.

        Binding an identity the user already has is a no-op. Raise UnknownUser for an unknown user, and
        IdentityConflict when the identity (or, for WeChat, its unionId) is bound to another user or the
        user already has another identity of that provider and app.
        """
        user = self.getUser(userId)
        if user is None:
            raise UnknownUser(f"no user has the userId {userId!r}; bind an identity to an existing user")
        links = self._links(identity.provider)
        now = self.clock()
        owner = links.owner(identity)
        if owner is not None and owner != userId:
            raise IdentityConflict(f"this {identity.provider} account is already bound to another user; unbind it "
                                   "there first")
        row = links.find(identity)
        if row is not None:
            links.touch(row, identity, now)
        else:
            if links.of_user(userId, identity.appId):
                raise IdentityConflict(f"user {userId} already has another {identity.provider} account bound in "
                                       f"app {identity.appId}; unbind it first")
            if links.link(userId, identity, now) != userId:  # a concurrent bind or login took it
                raise IdentityConflict(f"this {identity.provider} account was bound to another user meanwhile")
        self._update_profile(userId, identity, False, now)
        return {"provider": identity.provider, "appId": identity.appId, "externalId": identity.externalId,
                "unionId": identity.unionId, "userId": userId}

    def unbindIdentity(self, userId: str, provider: str, appId: str) -> int:
        """Remove the user's identity of a provider and app (a WeCom corp, a WeChat AppID); return how many.

        Raise UnknownUser for an unknown user and IdentityNotBound when there is nothing to unbind.
        """
        if self.getUser(userId) is None:
            raise UnknownUser(f"no user has the userId {userId!r}")
        removed = self._links(provider).unlink(userId, appId)
        if not removed:
            raise IdentityNotBound(f"user {userId} has no {provider} account bound in app {appId}")
        return removed

    def identitiesOf(self, userId: str, provider: str | None = None) -> list[dict[str, Any]]:
        """Return the user's identities ``[{provider, appId, externalId, unionId}]`` (of one provider if given)."""
        found: list[dict[str, Any]] = []
        if provider in (None, WECOM):
            found += WeComLinks(self.wecomIdentities).listing(userId)
        if provider != WECOM:
            rows = self.identities.query(Q(userId=userId) if provider is None else Q(userId=userId, provider=provider),
                                         fieldList=["provider", "appId", "externalId", "unionId"],
                                         orderList=[["provider", 1], ["appId", 1]], size=1000)["rowDatas"]
            found += [{"provider": r.provider, "appId": r.appId, "externalId": r.externalId, "unionId": r.unionId}
                      for r in rows]
        return found

    def _update_profile(self, user_id: str, identity: Identity, overwrite: bool, now: datetime) -> None:
        """Copy the identity's profile to the user: every field, or only the user's empty ones."""
        profile = {k: v for k, v in identity.profile.items() if k in _PROFILE_FIELDS and v not in (None, "")}
        if not profile:
            return
        if not overwrite:
            user = self.getUser(user_id)
            profile = {k: v for k, v in profile.items() if user is not None and not user[k]}
            if not profile:
                return
        self.users.updateByFilter(Q(userId=user_id), {**profile, "updatedAt": now})

    def _user(self, user_id: str) -> Row:
        user = self.getUser(user_id)
        if user is None:
            raise LoginCodeInvalid(f"user {user_id} no longer exists")
        return user

    # -- login codes ---------------------------------------------------------------------------

    def createLoginCode(
        self, userId: str, corpList: Sequence[dict[str, Any]] = (), authType: str | None = None
    ) -> str:
        """Issue a one-time login code for a user (valid 5 minutes); only its hash is stored."""
        code = secrets.token_urlsafe(24)
        now = self.clock()
        self.loginCodes.create({"codeHash": _digest(code), "userId": userId, "authType": authType,
                                "corpList": list(corpList), "expiresAt": now + LOGIN_CODE_TTL, "createdAt": now})
        return code

    def exchangeLoginCode(
        self, loginCode: str, corpId: str | None = None, platform: LoginPlatform = "app"
    ) -> dict[str, Any]:
        """Consume a login code and open a session: ``{token, expiresAt, userId, corpId}``.

        ``corpId`` must be one of the code's ``corpList``; without it the only corp of the list is
        chosen, or none. A code with an empty ``corpList`` opens only a corp-less session.
        """
        self._check_platform(platform)
        code_hash = _digest(str(loginCode))
        now = self.clock()
        row = self.loginCodes.get(Q(codeHash=code_hash))
        if row is None or row.usedAt is not None or row.expiresAt <= now:
            raise LoginCodeInvalid("the login code is invalid, expired or already used; start the login again")
        corp_ids = [c.get("corpId") for c in (row.corpList or [])]
        chosen = corpId
        if chosen is None:
            chosen = corp_ids[0] if len(corp_ids) == 1 else None
        elif chosen not in corp_ids:
            # An empty corpList grants no corp at all: only a corp-less session (corpId None) may be opened.
            raise LoginCodeInvalid(f"this login code does not give access to corp {chosen}"
                                   if corp_ids else "this login code gives access to no corp; omit corpId")
        # One conditional UPDATE: of many concurrent exchanges exactly one changes the row.
        consumed = self.loginCodes.updateByFilter(
            Q(codeHash=code_hash, usedAt__isnull=True, expiresAt__gt=now), {"usedAt": now})
        if consumed != 1:
            raise LoginCodeInvalid("the login code is invalid, expired or already used; start the login again")
        return self.openSession(row.userId, chosen, platform)

    # -- sessions ------------------------------------------------------------------------------

    def openSession(self, userId: str, corpId: str | None = None, platform: LoginPlatform = "app") -> dict[str, Any]:
        """Open a session for a user (login codes and workbench logins end here)."""
        self._check_platform(platform)
        token = secrets.token_urlsafe(32)  # 256 random bits
        now = self.clock()
        expires = now + self._session_ttl(platform)
        self.sessions.create({"tokenHash": _digest(token), "userId": userId, "corpId": corpId,
                              "platform": platform, "expiresAt": expires, "createdAt": now})
        return {"token": token, "expiresAt": expires, "userId": userId, "corpId": corpId}

    def getSession(self, token: str) -> dict[str, Any]:
        """Return ``{userId, corpId, platform, expiresAt}`` of a live session; raise SessionInvalid."""
        row = self.sessions.get(Q(tokenHash=_digest(str(token))))
        if row is None or row.revokedAt is not None or row.expiresAt <= self.clock():
            raise SessionInvalid("the session is invalid, expired or logged out; log in again")
        return {"userId": row.userId, "corpId": row.corpId, "platform": row.platform, "expiresAt": row.expiresAt}

    def logout(self, token: str) -> bool:
        """Revoke a session; return False if it was not live."""
        return self.sessions.updateByFilter(
            Q(tokenHash=_digest(str(token)), revokedAt__isnull=True), {"revokedAt": self.clock()}) == 1

    def _session_ttl(self, platform: str) -> timedelta:
        overrides = self.app.settings.get("sessionTtlSeconds", {})
        if isinstance(overrides, dict) and platform in overrides:
            return timedelta(seconds=float(overrides[platform]))
        return SESSION_TTL[platform]

    @staticmethod
    def _check_platform(platform: str) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
