"""``auths.models.LoginCodeModel``: One-time login codes (stored hashed), valid 5 minutes."""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.types.auths.models.tables import LoginCodeTable

__all__ = ["LoginCodeModel"]


class LoginCodeModel(ModelElement):
    """Login codes."""

    table = LoginCodeTable
