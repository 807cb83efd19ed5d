"""``corps.models.CorpDept``: Departments of every organisation."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.corps.models.tables import CorpDeptTable

__all__ = ["CorpDept"]


class CorpDept(ModelElement):
    """Departments of every organisation."""

    table = CorpDeptTable
