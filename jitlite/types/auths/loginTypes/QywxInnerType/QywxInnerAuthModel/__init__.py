"""``QywxInnerAuthModel``: WeCom members known through a self-built app, with their profile."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Boolean, Datetime, JitList, Model, Secret, Stext, utc_now

__all__ = ["QywxInnerAuthModel", "QywxInnerAuthTable"]


class QywxInnerAuthTable(Model):
    """One WeCom member of one corp, linked to a system user.

    ``accessToken`` keeps the member's last user_ticket (for ``auth/getuserdetail``) and ``expiresAt``
    its expiry; WeCom gives self-built apps no refresh token, so ``refreshToken`` stays empty. Both
    are encrypted at rest.
    """

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
    department = JitList(nullable=True, title="Department ids (WeCom's numbers)")
    position = Stext(max_length=255, nullable=True, title="Position")
    gender = Stext(max_length=8, nullable=True, title="Gender: 0 unknown, 1 male, 2 female")
    status = Stext(max_length=16, nullable=True, title="WeCom status: 1 active, 2 disabled, 4 not activated, 5 quit")
    isLeader = Boolean(default=False, title="Leads a department")
    accessToken = Secret(nullable=True, title="The last user_ticket (encrypted)")
    refreshToken = Secret(nullable=True, title="Refresh token (encrypted; WeCom gives none)")
    expiresAt = Datetime(nullable=True, title="Token expiry")
    createdAt = Datetime(default=utc_now, title="Created")
    updatedAt = Datetime(default=utc_now, title="Updated")


class QywxInnerAuthModel(ModelElement):
    """WeCom members of self-built-app logins."""

    table = QywxInnerAuthTable
