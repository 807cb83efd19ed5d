"""``auths.models.WeComIdentityModel``: WeCom members bound to system users, for every WeCom login Type."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import WeComIdentityTable

__all__ = ["WeComIdentityModel"]


class WeComIdentityModel(ModelElement):
    """WeCom identities."""

    table = WeComIdentityTable
