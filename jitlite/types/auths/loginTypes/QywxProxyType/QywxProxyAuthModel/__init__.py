"""``QywxProxyAuthModel``: the corps that authorised a proxy-development suite, one row each."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Datetime, JitDict, Model, Secret, Stext, utc_now

__all__ = ["QywxProxyAuthModel", "QywxProxyAuthTable"]


class QywxProxyAuthTable(Model):
    """An authorisation of a suite by a corp; the permanent code is encrypted at rest."""

    __tablename__ = "jit_qywx_proxy_auth"
    __unique__ = (("suiteId", "corpId"),)
    __indexes__ = ("status",)

    suiteId = Stext(max_length=64, title="Suite id")
    corpId = Stext(max_length=64, title="Authorised corp id")
    corpName = Stext(max_length=255, nullable=True, title="Corp name")
    agentId = Stext(max_length=32, nullable=True, title="The app's agent id in the corp")
    permanentCode = Secret(nullable=True, title="Permanent code (the corp's app secret in proxy development)")
    authInfo = JitDict(nullable=True, title="The last auth info WeCom returned")
    orgCode = Stext(max_length=64, nullable=True, unique=True, title="Organisation code for QR login")
    status = Stext(max_length=16, default="active", title="active or cancelled")
    authorizedAt = Datetime(default=utc_now, title="First authorised")
    cancelledAt = Datetime(nullable=True, title="When the authorisation was cancelled")
    lastEventAt = Datetime(nullable=True, title="Time of the newest auth event applied (orders late deliveries)")
    updatedAt = Datetime(default=utc_now, title="Last change")


class QywxProxyAuthModel(ModelElement):
    """The authorised corps of every proxy-development suite of the app."""

    table = QywxProxyAuthTable
