"""``corps.models.CorpRole``: Roles of every organisation."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.corps.models.tables import CorpRoleTable

__all__ = ["CorpRole"]


class CorpRole(ModelElement):
    """Roles of every organisation."""

    table = CorpRoleTable
