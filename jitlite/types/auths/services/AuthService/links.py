"""Where AuthService keeps the bindings of identities to system users, one store per kind of key.

* WeCom members are keyed by corp: ``auths.models.WeComIdentityModel`` (corpId, wecomUserId), the
  table the org sync also writes when it registers members, and the one corpList reads.
* Every other provider's accounts are in the provider-neutral ``auths.models.IdentityModel``
  (provider, appId, externalId, unionId), unique on (provider, appId, externalId) and on
  (provider, appId, userId).

Both answer the same questions, so AuthService's API is the same for every provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from jitlite.meta.auths import WECOM, Identity
from jitlite.storage import ConstraintError, Q, Row

__all__ = ["IdentityLinks", "LinkStore", "WeComLinks"]


class LinkStore(Protocol):
    """The bindings of one kind of identity."""

    #: Whether the provider's profile replaces the user's fields (True) or only fills empty ones.
    profile_overwrites: bool

    def owner(self, identity: Identity) -> str | None:
        """Return the userId the identity is bound to, or None."""

    def find(self, identity: Identity) -> Row | None:
        """Return the binding row of exactly this identity, or None."""

    def of_user(self, user_id: str, app_id: str) -> list[Row]:
        """Return the user's bindings in one app (corp)."""

    def link(self, user_id: str, identity: Identity, now: datetime) -> str | None:
        """Bind the identity to the user; return whom it is bound to afterwards (a race may lose).

        None means it could not be bound: the user got another account of that app meanwhile.
        """

    def touch(self, row: Row, identity: Identity, now: datetime) -> None:
        """Refresh a binding's copy of the provider's data."""

    def unlink(self, user_id: str, app_id: str, row_id: Any | None = None) -> int:
        """Remove the user's bindings in one app (or one binding row); return how many."""

    def listing(self, user_id: str) -> list[dict[str, Any]]:
        """Return the user's bindings as ``{provider, appId, externalId, unionId}``."""


class WeComLinks:
    """WeCom members bound to users, per corp (``auths.models.WeComIdentityModel``)."""

    profile_overwrites = True  # the corp's directory is the authority on a member's name and contacts

    def __init__(self, model: Any) -> None:
        self.model = model

    def owner(self, identity: Identity) -> str | None:
        row = self.find(identity)
        return None if row is None else str(row.userId)

    def find(self, identity: Identity) -> Row | None:
        found: Row | None = self.model.get(Q(corpId=identity.appId, wecomUserId=identity.externalId))
        return found

    def of_user(self, user_id: str, app_id: str) -> list[Row]:
        rows: list[Row] = self.model.query(Q(corpId=app_id, userId=user_id), size=100)["rowDatas"]
        return rows

    def link(self, user_id: str, identity: Identity, now: datetime) -> str | None:
        try:
            self.model.create({"corpId": identity.appId, "wecomUserId": identity.externalId, "userId": user_id,
                               **self._data(identity), "createdAt": now, "updatedAt": now})
        except ConstraintError:
            # The unique (corpId, wecomUserId): of two first logins at once, the first binding wins.
            return self.owner(identity)
        return user_id

    def touch(self, row: Row, identity: Identity, now: datetime) -> None:
        self.model.updateByPK(row.id, {**self._data(identity), "updatedAt": now})

    def unlink(self, user_id: str, app_id: str, row_id: Any | None = None) -> int:
        where = Q(corpId=app_id, userId=user_id) if row_id is None else Q(id=row_id, userId=user_id)
        return int(self.model.deleteByFilter(where))

    def listing(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.model.query(Q(userId=user_id), fieldList=["corpId", "wecomUserId"],
                                orderList=[["corpId", 1]], size=1000)["rowDatas"]
        return [{"provider": WECOM, "appId": r.corpId, "externalId": r.wecomUserId, "unionId": None} for r in rows]

    @staticmethod
    def _data(identity: Identity) -> dict[str, Any]:
        data: dict[str, Any] = {}
        name = identity.profile.get("name")
        if name:
            data["name"] = name
        open_user_id = identity.details.get("open_userid")
        if open_user_id:
            data["openUserId"] = open_user_id
        return data


class IdentityLinks:
    """One provider's accounts bound to users (``auths.models.IdentityModel``), unionId aware."""

    profile_overwrites = False  # a WeChat nickname never replaces a name the user already has

    def __init__(self, model: Any, provider: str) -> None:
        self.model = model
        self.provider = provider

    def owner(self, identity: Identity) -> str | None:
        # The unionId first: the same person through another app of the Open Platform account.
        if identity.unionId:
            row = self.model.get(Q(provider=self.provider, unionId=identity.unionId), orderList=[["id", 1]])
            if row is not None:
                return str(row.userId)
        row = self.find(identity)
        return None if row is None else str(row.userId)

    def find(self, identity: Identity) -> Row | None:
        found: Row | None = self.model.get(
            Q(provider=self.provider, appId=identity.appId, externalId=identity.externalId))
        return found

    def of_user(self, user_id: str, app_id: str) -> list[Row]:
        rows: list[Row] = self.model.query(Q(provider=self.provider, appId=app_id, userId=user_id),
                                           size=100)["rowDatas"]
        return rows

    def link(self, user_id: str, identity: Identity, now: datetime) -> str | None:
        row = {"provider": self.provider, "appId": identity.appId, "externalId": identity.externalId,
               "unionId": identity.unionId, "userId": user_id, "name": identity.profile.get("name"),
               "createdAt": now, "updatedAt": now}
        try:
            created = self.model.create(row)
        except ConstraintError:
            # The account was bound meanwhile (its owner is the answer), or the user got another one.
            current = self.find(identity)
            return None if current is None else str(current.userId)
        if identity.unionId:
            # Two apps' first logins of one person at once: the oldest binding of the unionId wins.
            first = self.model.get(Q(provider=self.provider, unionId=identity.unionId), orderList=[["id", 1]])
            if first is not None and first.userId != user_id:
                self.model.deleteByPK(created.id)
                return str(first.userId)
        return user_id

    def touch(self, row: Row, identity: Identity, now: datetime) -> None:
        changes: dict[str, Any] = {"updatedAt": now}
        if identity.unionId and row.unionId != identity.unionId:
            changes["unionId"] = identity.unionId
        name = identity.profile.get("name")
        if name:
            changes["name"] = name
        self.model.updateByPK(row.id, changes)

    def unlink(self, user_id: str, app_id: str, row_id: Any | None = None) -> int:
        where = Q(provider=self.provider, appId=app_id, userId=user_id)
        if row_id is not None:
            where = where & Q(id=row_id)
        return int(self.model.deleteByFilter(where))

    def listing(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.model.query(Q(provider=self.provider, userId=user_id),
                                fieldList=["appId", "externalId", "unionId"], orderList=[["appId", 1]],
                                size=1000)["rowDatas"]
        return [{"provider": self.provider, "appId": r.appId, "externalId": r.externalId, "unionId": r.unionId}
                for r in rows]
