"""``auths.models.IdentityModel``: accounts of other providers (WeChat) bound to system users."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import IdentityTable

__all__ = ["IdentityModel"]


class IdentityModel(ModelElement):
    """Provider identities: (provider, appId, externalId, unionId) → userId."""

    table = IdentityTable
