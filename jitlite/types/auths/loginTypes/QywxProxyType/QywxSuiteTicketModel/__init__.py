"""``QywxSuiteTicketModel``: the newest suite_ticket of each suite, kept across restarts."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Datetime, Model, Secret, Stext

__all__ = ["QywxSuiteTicketModel", "QywxSuiteTicketTable"]


class QywxSuiteTicketTable(Model):
    """One row per suite: its newest ticket (a credential, so encrypted) and when it came."""

    __tablename__ = "jit_qywx_suite_ticket"

    suiteId = Stext(max_length=64, unique=True, title="Suite id")
    ticket = Secret(title="suite_ticket")
    receivedAt = Datetime(title="When WeCom pushed it")


class QywxSuiteTicketModel(ModelElement):
    """Suite tickets of every proxy-development suite of the app."""

    table = QywxSuiteTicketTable
