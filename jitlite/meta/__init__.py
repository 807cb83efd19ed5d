"""The official Metas: the base classes each family of Types builds on.

Each is addressable by fullName: ``app.getElement("auths.loginTypes.Meta")`` returns ``LoginType``.
"""

from .auths import LoginType
from .caches import CacheElement
from .corps import Corp
from .databases import Database
from .models import ModelElement
from .services import Service

__all__ = ["CacheElement", "Corp", "Database", "LoginType", "ModelElement", "Service"]
