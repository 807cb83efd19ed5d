"""``auths.models.SessionModel``: Session tokens (stored hashed): expiring and revocable."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import SessionTable

__all__ = ["SessionModel"]


class SessionModel(ModelElement):
    """Sessions."""

    table = SessionTable
