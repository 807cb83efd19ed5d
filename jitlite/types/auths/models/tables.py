"""The tables of the identity models (one module, so the service can use them without the app)."""

from __future__ import annotations

from jitlite.storage import Datetime, JitList, Model, Stext, utc_now

__all__ = ["IdentityTable", "LoginCodeTable", "SessionTable", "UserTable", "WeComIdentityTable"]


class UserTable(Model):
    """A system user."""

    __tablename__ = "jit_user"
    __indexes__ = ("mobile", "email")

    userId = Stext(max_length=64, unique=True, title="System user id")
    name = Stext(max_length=255, nullable=True, title="Name")
    mobile = Stext(max_length=32, nullable=True, title="Mobile")
    email = Stext(max_length=255, nullable=True, title="Email")
    avatar = Stext(max_length=1024, nullable=True, title="Avatar URL")
    status = Stext(max_length=16, default="active", title="active or disabled")
    createdAt = Datetime(default=utc_now, title="Created")
    updatedAt = Datetime(default=utc_now, title="Updated")


class WeComIdentityTable(Model):
    """A WeCom member (corp + user id) bound to a system user."""

    __tablename__ = "jit_wecom_identity"
    __unique__ = (("corpId", "wecomUserId"),)
    __indexes__ = ("userId",)

    corpId = Stext(max_length=64, title="Corp id")
    wecomUserId = Stext(max_length=64, title="WeCom user id")
    openUserId = Stext(max_length=128, nullable=True, title="open_userid (third-party apps)")
    userId = Stext(max_length=64, title="System user id")
    name = Stext(max_length=255, nullable=True, title="Name in WeCom")
    createdAt = Datetime(default=utc_now, title="Created")
    updatedAt = Datetime(default=utc_now, title="Updated")


class IdentityTable(Model):
    """An account of another provider (a WeChat openId of one app) bound to a system user.

    One row per (provider, appId, externalId): an account belongs to at most one user, and a user
    has at most one account per provider and app. WeCom members live in ``WeComIdentityTable``,
    keyed by corp, which the org sync writes too.
    """

    __tablename__ = "jit_identity"
    __unique__ = (("provider", "appId", "externalId"), ("provider", "appId", "userId"))
    __indexes__ = ("userId", ("provider", "unionId"))

    provider = Stext(max_length=32, title="Provider: wechat, …")
    appId = Stext(max_length=128, title="The provider's app id (a WeChat AppID)")
    externalId = Stext(max_length=128, title="The account's id in that app (a WeChat openId)")
    unionId = Stext(max_length=128, nullable=True, title="The id shared by the provider's apps (WeChat unionId)")
    userId = Stext(max_length=64, title="System user id")
    name = Stext(max_length=255, nullable=True, title="Name (nickname) at the provider")
    createdAt = Datetime(default=utc_now, title="Bound")
    updatedAt = Datetime(default=utc_now, title="Last login or change")


class LoginCodeTable(Model):
    """A one-time login code, stored as its SHA-256 only."""

    __tablename__ = "jit_login_code"
    __indexes__ = ("expiresAt",)

    codeHash = Stext(max_length=64, unique=True, title="SHA-256 of the code")
    userId = Stext(max_length=64, title="System user id")
    authType = Stext(max_length=255, nullable=True, title="The login Type that issued it")
    corpList = JitList(nullable=True, title="Corps the user may enter: [{corpId, corpName}]")
    expiresAt = Datetime(title="Expires")
    usedAt = Datetime(nullable=True, title="Consumed")
    createdAt = Datetime(default=utc_now, title="Created")


class SessionTable(Model):
    """A session token, stored as its SHA-256 only."""

    __tablename__ = "jit_session"
    __indexes__ = ("userId", "expiresAt")

    tokenHash = Stext(max_length=64, unique=True, title="SHA-256 of the token")
    userId = Stext(max_length=64, title="System user id")
    corpId = Stext(max_length=64, nullable=True, title="The corp the session is in")
    platform = Stext(max_length=16, title="app, web or mobile")
    expiresAt = Datetime(title="Expires")
    revokedAt = Datetime(nullable=True, title="Logged out")
    createdAt = Datetime(default=utc_now, title="Created")
