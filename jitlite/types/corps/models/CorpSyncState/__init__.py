"""``corps.models.CorpSyncState``: Each organisation's sync lease and last result."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.corps.models.tables import CorpSyncStateTable

__all__ = ["CorpSyncState"]


class CorpSyncState(ModelElement):
    """Each organisation's sync lease and last result."""

    table = CorpSyncStateTable
