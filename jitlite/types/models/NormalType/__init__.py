"""``models.NormalType``: a table in the app's database with JitAi's model API.

JitAi's model files subclass ``NormalModel`` (``from models.NormalType import NormalModel``) and
declare their fields with ``datatypes``; jitlite's own models set ``table`` instead. Both are
``jitlite.meta.models.ModelElement``, which this Type adds nothing to.
"""

from __future__ import annotations

from jitlite.meta.models import ModelElement

__all__ = ["NormalModel"]

#: The base class of model elements of this Type (JitAi's name for it).
NormalModel = ModelElement
