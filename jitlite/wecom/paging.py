"""Bounded iteration over paged and tree-shaped contact data."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .api.user import MAX_LIST_ID_LIMIT
from .client import BaseCorpClient
from .errors import NotFoundOrOutOfScope, WeComError

__all__ = ["departments_parent_first", "iter_dept_users", "iter_user_ids", "list_departments"]


def iter_dept_users(client: BaseCorpClient, *, limit: int = MAX_LIST_ID_LIMIT) -> Iterator[dict[str, Any]]:
    """Yield every ``{userid | open_userid, department}`` row of ``user/list_id``, page by page."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = client.user.list_id(cursor=cursor, limit=limit)
        yield from page["dept_user"]
        next_cursor = page["next_cursor"]
        if not next_cursor:
            return
        if next_cursor in seen:
            # A repeated cursor would page forever; stop loudly rather than loop.
            raise WeComError(f"user/list_id returned cursor {next_cursor!r} twice; stopping the iteration")
        seen.add(next_cursor)
        cursor = next_cursor


def iter_user_ids(client: BaseCorpClient, *, limit: int = MAX_LIST_ID_LIMIT) -> Iterator[str]:
    """Yield each member id (userid, or open_userid for third-party apps) once, in first-seen order."""
    yielded: set[str] = set()
    for row in iter_dept_users(client, limit=limit):
        user_id = row.get("userid") or row.get("open_userid")
        if isinstance(user_id, str) and user_id and user_id not in yielded:
            yielded.add(user_id)
            yield user_id


def list_departments(
    client: BaseCorpClient, id: int | None = None, *, with_details: bool = False
) -> list[dict[str, Any]]:
    """Return departments from ``department/simplelist``, with ``department/get`` details if asked.

    Departments that vanished or left the app's visible range meanwhile (60003, 60011 …) are skipped.
    """
    departments = client.department.simplelist(id)
    if not with_details:
        return departments
    detailed: list[dict[str, Any]] = []
    for entry in departments:
        try:
            detail = client.department.get(entry["id"])
        except NotFoundOrOutOfScope:
            continue
        detailed.append({**entry, **detail})
    return detailed


def departments_parent_first(departments: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return departments ordered so every parent precedes its children (orphans and cycles last-safe)."""
    by_id: dict[Any, dict[str, Any]] = {}
    for department in departments:
        by_id.setdefault(department["id"], department)
    children: dict[Any, list[Any]] = {}
    roots: list[Any] = []
    for dep_id, department in by_id.items():
        parent = department.get("parentid")
        if parent in by_id and parent != dep_id:
            children.setdefault(parent, []).append(dep_id)
        else:
            roots.append(dep_id)
    ordered: list[dict[str, Any]] = []
    placed: set[Any] = set()
    stack = list(reversed(roots))
    while stack:
        dep_id = stack.pop()
        if dep_id in placed:
            continue
        placed.add(dep_id)
        ordered.append(by_id[dep_id])
        stack.extend(reversed(children.get(dep_id, [])))
    # Members of a parent cycle have no root above them; append them in input order.
    ordered.extend(department for dep_id, department in by_id.items() if dep_id not in placed)
    return ordered
