"""Contacts: members (通讯录管理 → 成员管理)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .base import BaseAPI, strip_status

if TYPE_CHECKING:
    from ..client import BaseCorpClient

__all__ = ["MAX_LIST_ID_LIMIT", "UserAPI"]

MAX_LIST_ID_LIMIT = 10_000


class UserAPI(BaseAPI):
    """``client.user``: read members."""

    _client: BaseCorpClient

    def get(self, userid: str) -> dict[str, Any]:
        """Return one member's record.

        https://developer.work.weixin.qq.com/document/path/90196
        """
        data = self._client.call_api("GET", "cgi-bin/user/get", params={"userid": userid})
        return strip_status(data)

    def list(self, department_id: int) -> builtins.list[dict[str, Any]]:
        """Return the detailed records of the members directly in department_id.

        https://developer.work.weixin.qq.com/document/path/90201
        """
        data = self._client.call_api("GET", "cgi-bin/user/list", params={"department_id": department_id})
        return list(data.get("userlist") or [])

    def simplelist(self, department_id: int) -> builtins.list[dict[str, Any]]:
        """Return ``[{userid, name, department, open_userid}]`` of the members directly in department_id.

        https://developer.work.weixin.qq.com/document/path/90200
        """
        data = self._client.call_api("GET", "cgi-bin/user/simplelist", params={"department_id": department_id})
        return list(data.get("userlist") or [])

    def list_id(self, cursor: str | None = None, limit: int = MAX_LIST_ID_LIMIT) -> dict[str, Any]:
        """Return one page ``{next_cursor, dept_user: [{userid | open_userid, department}]}`` of member ids.

        https://developer.work.weixin.qq.com/document/path/96067
        """
        if not 1 <= limit <= MAX_LIST_ID_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_ID_LIMIT}, got {limit}")
        body: dict[str, Any] = {"limit": limit}
        if cursor:
            body["cursor"] = cursor
        data = self._client.call_api("POST", "cgi-bin/user/list_id", json=body)
        return {"next_cursor": data.get("next_cursor") or "", "dept_user": list(data.get("dept_user") or [])}
