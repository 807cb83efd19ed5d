"""Contacts: departments (通讯录管理 → 部门管理)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .base import BaseAPI, drop_none

if TYPE_CHECKING:
    from ..client import BaseCorpClient

__all__ = ["DepartmentAPI"]


class DepartmentAPI(BaseAPI):
    """``client.department``: read the department tree."""

    _client: BaseCorpClient

    def simplelist(self, id: int | None = None) -> builtins.list[dict[str, Any]]:
        """Return ``[{id, parentid, order}]`` for department id and its subtree (all visible when None).

        https://developer.work.weixin.qq.com/document/path/95350
        """
        data = self._client.call_api("GET", "cgi-bin/department/simplelist", params=drop_none(id=id))
        return list(data.get("department_id") or [])

    def list(self, id: int | None = None) -> builtins.list[dict[str, Any]]:
        """Return the full department records for department id and its subtree (all visible when None).

        https://developer.work.weixin.qq.com/document/path/90208
        """
        data = self._client.call_api("GET", "cgi-bin/department/list", params=drop_none(id=id))
        return list(data.get("department") or [])

    def get(self, id: int) -> dict[str, Any]:
        """Return one department's record (name, name_en, parentid, order, department_leader).

        https://developer.work.weixin.qq.com/document/path/95351
        """
        data = self._client.call_api("GET", "cgi-bin/department/get", params={"id": id})
        department = data.get("department")
        return dict(department) if isinstance(department, dict) else {}
