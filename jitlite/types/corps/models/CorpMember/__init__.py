"""``corps.models.CorpMember``: Members of every organisation, linked to system users."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.corps.models.tables import CorpMemberTable

__all__ = ["CorpMember"]


class CorpMember(ModelElement):
    """Members of every organisation, linked to system users."""

    table = CorpMemberTable
