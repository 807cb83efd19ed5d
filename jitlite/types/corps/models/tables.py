"""The tables of the organisation models (one module, so the sync engine's users can name them).

Every row carries its organisation's key, ``corpFullName`` (the organisation element's fullName, or
the run-time name of a corp reached through ``forCorp``), and the WeCom ``corpId``: two
organisations never share a row, even when they name the same corp.
"""

from __future__ import annotations

from jitlite.storage import Boolean, Datetime, Integer, JitDict, JitList, Model, Stext, utc_now

__all__ = ["CorpDeptTable", "CorpMemberTable", "CorpRoleMemberTable", "CorpRoleTable", "CorpSyncStateTable"]


class CorpDeptTable(Model):
    """A department of an organisation."""

    __tablename__ = "jit_corp_dept"
    __unique__ = (("corpFullName", "deptId"),)
    __indexes__ = (("corpFullName", "parentId"),)

    deptId = Stext(max_length=64, title="Department id (WeCom's id, as text)")
    name = Stext(max_length=255, nullable=True, title="Name")
    parentId = Stext(max_length=64, nullable=True, title="Parent department id; None for the root")
    order = Integer(default=0, title="Order among its siblings")
    path = Stext(max_length=2048, nullable=True, title="Ids from the top down, as /1/2/5/")
    corpFullName = Stext(max_length=255, title="The organisation the row belongs to")
    corpId = Stext(max_length=64, title="Corp id")
    updatedAt = Datetime(default=utc_now, title="Last change")


class CorpMemberTable(Model):
    """A member of an organisation: a WeCom member of the corp, linked to a system user."""

    __tablename__ = "jit_corp_member"
    __unique__ = (("corpFullName", "memberId"),)
    __indexes__ = ("userId",)

    memberId = Stext(max_length=64, title="The member's WeCom userid in that corp")
    userId = Stext(max_length=64, nullable=True, title="The system user")
    name = Stext(max_length=255, nullable=True, title="Name")
    nick = Stext(max_length=255, nullable=True, title="Alias")
    phone = Stext(max_length=32, nullable=True, title="Mobile")
    email = Stext(max_length=255, nullable=True, title="Email")
    photo = Stext(max_length=1024, nullable=True, title="Avatar URL")
    gender = Integer(default=0, title="0 unknown, 1 male, 2 female")
    position = Stext(max_length=255, nullable=True, title="Position")
    deptIds = JitList(nullable=True, title="Department ids, as text")
    mainDeptId = Stext(max_length=64, nullable=True, title="Main department id")
    isLeader = Boolean(default=False, title="Leads at least one department")
    openUserId = Stext(max_length=128, nullable=True, title="open_userid (third-party apps)")
    wecomStatus = Integer(nullable=True, title="WeCom status: 1 active, 2 disabled, 4 not activated, 5 quit")
    status = Stext(max_length=16, default="active", title="active or offline")
    corpFullName = Stext(max_length=255, title="The organisation the row belongs to")
    corpId = Stext(max_length=64, title="Corp id")
    updatedAt = Datetime(default=utc_now, title="Last change")


class CorpRoleTable(Model):
    """A role members of an organisation can hold."""

    __tablename__ = "jit_corp_role"
    __unique__ = (("corpFullName", "roleId"),)

    roleId = Stext(max_length=64, title="Role id")
    name = Stext(max_length=255, nullable=True, title="Name")
    corpFullName = Stext(max_length=255, title="The organisation the row belongs to")
    corpId = Stext(max_length=64, title="Corp id")
    updatedAt = Datetime(default=utc_now, title="Last change")


class CorpRoleMemberTable(Model):
    """A member holding a role."""

    __tablename__ = "jit_corp_role_member"
    __unique__ = (("corpFullName", "memberId", "roleId"),)
    __indexes__ = (("corpFullName", "roleId"),)

    memberId = Stext(max_length=64, title="Member id")
    roleId = Stext(max_length=64, title="Role id")
    corpFullName = Stext(max_length=255, title="The organisation the row belongs to")
    corpId = Stext(max_length=64, title="Corp id")
    createdAt = Datetime(default=utc_now, title="Granted")


class CorpSyncStateTable(Model):
    """One organisation's sync: who holds it (a lease that expires) and how the last one went."""

    __tablename__ = "jit_corp_sync_state"

    corpFullName = Stext(max_length=255, unique=True, title="The organisation")
    corpId = Stext(max_length=64, title="Corp id")
    status = Stext(max_length=16, default="idle", title="idle, running, done or failed")
    leaseOwner = Stext(max_length=64, nullable=True, title="The run holding the lease")
    leaseUntil = Datetime(nullable=True, title="When the lease expires unless renewed")
    startedAt = Datetime(nullable=True, title="Start of the newest run")
    finishedAt = Datetime(nullable=True, title="End of the newest run")
    lastSuccessAt = Datetime(nullable=True, title="End of the newest complete run")
    report = JitDict(nullable=True, title="Counts of the newest run")
    lastError = Stext(max_length=2000, nullable=True, title="Why the newest run failed")
