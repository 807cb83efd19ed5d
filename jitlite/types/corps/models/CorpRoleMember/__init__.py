"""``corps.models.CorpRoleMember``: Which member holds which role."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.corps.models.tables import CorpRoleMemberTable

__all__ = ["CorpRoleMember"]


class CorpRoleMember(ModelElement):
    """Which member holds which role."""

    table = CorpRoleMemberTable
