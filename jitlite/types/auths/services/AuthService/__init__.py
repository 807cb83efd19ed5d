"""``auths.services.AuthService``: users, WeCom identities, one-time login codes and sessions.

Every login Type ends the same way: it finds or creates the system user behind a WeCom or WeChat
identity and issues a one-time **login code**; the front end exchanges that code (with the corp the
user picked) for a **session token**. Codes and tokens are random, stored only as SHA-256 hashes,
expire, and are consumed or revoked with single conditional statements, so a race has one winner.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from jitlite.meta.services import Service
from jitlite.runtime.errors import LoginCodeInvalid, SessionInvalid
from jitlite.storage import Q, Row

__all__ = ["LOGIN_CODE_TTL", "PLATFORMS", "AuthService", "LoginPlatform"]

LoginPlatform = Literal["app", "web", "mobile"]
PLATFORMS: tuple[str, ...] = ("app", "web", "mobile")
LOGIN_CODE_TTL = timedelta(minutes=5)
# How long a session lasts per platform; an app overrides them with settings.sessionTtlSeconds.
SESSION_TTL = {"web": timedelta(days=1), "app": timedelta(days=7), "mobile": timedelta(days=30)}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class AuthService(Service):
    """Users and their identities, login codes and session tokens."""

    #: The clock, replaceable in tests; always timezone-aware UTC.
    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(timezone.utc))

    def onLoad(self) -> None:
        """Find the identity models (binding their tables)."""
        self.users = self.getElement("auths.models.UserModel")
        self.wecomIdentities = self.getElement("auths.models.WeComIdentityModel")
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
        now = self.clock()
        found = self.wecomIdentities.get(Q(corpId=corpId, wecomUserId=wecomUserId))
        profile = {k: v for k, v in (("name", name), ("mobile", mobile), ("email", email), ("avatar", avatar))
                   if v is not None}
        if found is None:
            user = self.createUser(**profile)
            # Two first logins at once: the unique (corpId, wecomUserId) key lets one binding win.
            identity = self.wecomIdentities.updateOrAdd(
                Q(corpId=corpId, wecomUserId=wecomUserId),
                {"userId": user.userId, "name": name, "openUserId": openUserId, "updatedAt": now})
            if identity.userId != user.userId:
                self.users.deleteByFilter(Q(userId=user.userId))
                return self._user(identity.userId)
            return user
        changes = {"updatedAt": now, **({"name": name} if name is not None else {}),
                   **({"openUserId": openUserId} if openUserId is not None else {})}
        self.wecomIdentities.updateByPK(found.id, changes)
        if profile:
            self.users.updateByFilter(Q(userId=found.userId), {**profile, "updatedAt": now})
        return self._user(found.userId)

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
        """Consume a login code and open a session: ``{token, expiresAt, userId, corpId}``."""
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
        elif corp_ids and chosen not in corp_ids:
            raise LoginCodeInvalid(f"this login code does not give access to corp {chosen}")
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
