"""``auths.models.WeComIdentityModel``: WeCom members (corp id + user id) bound to system users, shared by every WeCom login Type."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import WeComIdentityTable

__all__ = ["WeComIdentityModel"]


class WeComIdentityModel(ModelElement):
    """WeCom identities."""

    table = WeComIdentityTable
