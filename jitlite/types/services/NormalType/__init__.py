"""``services.NormalType``: a plain service element, a class whose public methods are its functions.

JitAi's service files subclass ``NormalService`` (``from services.NormalType import NormalService``),
which is ``jitlite.meta.services.Service``.
"""

from __future__ import annotations

from jitlite.meta.services import Service

__all__ = ["NormalService"]

#: The base class of service elements of this Type (JitAi's name for it).
NormalService = Service
