"""``WeChatAuthModel``: WeChat identities bound to system users."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Datetime, Model, Secret, Stext, utc_now

__all__ = ["WeChatAuthModel", "WeChatAuthTable"]


class WeChatAuthTable(Model):
    """One WeChat user of one Open Platform app (openId), bound to a system user.

    A row exists while the account is bound: login and ``bind`` write it, ``unbind`` deletes it. The
    binding itself (and the rule that it belongs to one user) is AuthService's, in
    ``auths.models.IdentityModel``; this row is the Type's record of it, with the refresh token.
    """

    __tablename__ = "jit_wechat_auth"
    __unique__ = (("appId", "openId"), ("appId", "userId"))
    __indexes__ = ("userId", "unionId")

    appId = Stext(max_length=64, title="WeChat app id")
    userId = Stext(max_length=64, nullable=True, title="System user id")
    openId = Stext(max_length=128, title="openId (per app)")
    unionId = Stext(max_length=128, nullable=True, title="unionId (per Open Platform account)")
    refreshToken = Secret(nullable=True, title="OAuth refresh token (encrypted, valid 30 days)")
    createdAt = Datetime(default=utc_now, title="Created")
    updatedAt = Datetime(default=utc_now, title="Updated")


class WeChatAuthModel(ModelElement):
    """WeChat identities of the app's users."""

    table = WeChatAuthTable
