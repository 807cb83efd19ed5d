"""``auths.models.UserModel``: Users of the app, whichever way they log in."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import UserTable

__all__ = ["UserModel"]


class UserModel(ModelElement):
    """System users."""

    table = UserTable
