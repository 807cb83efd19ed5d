"""API namespaces bound per client: ``client.department``, ``client.user``, ``client.oauth`` …."""

from __future__ import annotations

from .base import BaseAPI, api_namespace
from .department import DepartmentAPI
from .oauth import OAuthAPI
from .service import ProviderServiceAPI, SuiteServiceAPI
from .sns import SnsAPI
from .user import UserAPI

__all__ = [
    "BaseAPI",
    "DepartmentAPI",
    "OAuthAPI",
    "ProviderServiceAPI",
    "SnsAPI",
    "SuiteServiceAPI",
    "UserAPI",
    "api_namespace",
]
