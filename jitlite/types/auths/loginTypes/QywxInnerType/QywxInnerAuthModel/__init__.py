"""``QywxInnerAuthModel``: WeCom members known through a self-built app, with their profile."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Boolean, Datetime, JitList, Model, Secret, Stext, utc_now

__all__ = ["QywxInnerAuthModel", "QywxInnerAuthTable"]


class QywxInnerAuthTable(Model):
    """One WeCom member of one corp, linked to a system user."""

    __tablename__ = "jit_qywx_inner_auth"
    __unique__ = (("corpId", "userId"),)
    __indexes__ = ("sysUserId",)

    corpId = Stext(max_length=64, title="Corp id")
    userId = Stext(max_length=64, title="WeCom user id")
    sysUserId = Stext(max_length=64, nullable=True, title="System user id")
    name = Stext(max_length=255, nullable=True, title="Name")
    mobile = Stext(max_length=32, nullable=True, title="Mobile")
    email = Stext(max_length=255, nullable=True, title="Email")
    avatar = Stext(max_length=1024, nullable=True, title="Avatar URL")
    department = JitList(nullable=True, title="Department ids")
    position = Stext(max_length=255, nullable=True, title="Position")
    gender = Stext(max_length=8, nullable=True, title="Gender")
    status = Stext(max_length=16, nullable=True, title="WeCom member status")
    isLeader = Boolean(default=False, title="Leads a department")
    accessToken = Secret(nullable=True, title="Access token")
    refreshToken = Secret(nullable=True, title="Refresh token")
    expiresAt = Datetime(nullable=True, title="Token expiry")
    createdAt = Datetime(default=utc_now, title="Created")
    updatedAt = Datetime(default=utc_now, title="Updated")


class QywxInnerAuthModel(ModelElement):
    """WeCom members of self-built-app logins."""

    table = QywxInnerAuthTable
