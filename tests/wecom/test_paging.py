"""Cursor paging over user/list_id and department helpers."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from jitlite.wecom import (
    CorpClient,
    WeComError,
    departments_parent_first,
    iter_dept_users,
    iter_user_ids,
    list_departments,
)

WECOM = "https://qyapi.weixin.qq.com"
OK = {"errcode": 0, "errmsg": "ok"}


@pytest.fixture
def authed(httpx_mock: HTTPXMock, corp: CorpClient) -> CorpClient:
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/gettoken",
        match_params={"corpid": corp.corp_id, "corpsecret": corp._secret},
        json={**OK, "access_token": "T", "expires_in": 7200},
    )
    return corp


def page(httpx_mock: HTTPXMock, cursor: str | None, next_cursor: str, rows: list[dict[str, Any]]) -> None:
    body: dict[str, Any] = {"limit": 2}
    if cursor:
        body["cursor"] = cursor
    httpx_mock.add_response(
        method="POST",
        url=f"{WECOM}/cgi-bin/user/list_id",
        match_params={"access_token": "T"},
        match_json=body,
        json={**OK, "next_cursor": next_cursor, "dept_user": rows},
    )


def test_iter_user_ids_follows_the_cursor_until_it_is_empty(authed: CorpClient, httpx_mock: HTTPXMock) -> None:
    page(httpx_mock, None, "c1", [{"userid": "zhangsan", "department": 1}, {"userid": "zhangsan", "department": 2}])
    page(httpx_mock, "c1", "c2", [{"userid": "lisi", "department": 2}, {"open_userid": "wo-x", "department": 3}])
    page(httpx_mock, "c2", "", [{"userid": "wangwu", "department": 1}])
    assert list(iter_user_ids(authed, limit=2)) == ["zhangsan", "lisi", "wo-x", "wangwu"]


def test_iter_dept_users_yields_every_row(authed: CorpClient, httpx_mock: HTTPXMock) -> None:
    page(httpx_mock, None, "c1", [{"userid": "a", "department": 1}])
    page(httpx_mock, "c1", "", [{"userid": "a", "department": 2}])
    assert list(iter_dept_users(authed, limit=2)) == [
        {"userid": "a", "department": 1},
        {"userid": "a", "department": 2},
    ]


def test_a_repeated_cursor_stops_the_iteration(authed: CorpClient, httpx_mock: HTTPXMock) -> None:
    page(httpx_mock, None, "c1", [{"userid": "a", "department": 1}])
    page(httpx_mock, "c1", "c2", [{"userid": "b", "department": 1}])
    page(httpx_mock, "c2", "c1", [{"userid": "c", "department": 1}])
    seen: list[str] = []
    with pytest.raises(WeComError, match="cursor 'c1' twice"):
        for user_id in iter_user_ids(authed, limit=2):
            seen.append(user_id)
    assert seen == ["a", "b", "c"]


def test_list_departments_with_details_skips_vanished_ones(authed: CorpClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/department/simplelist",
        match_params={"access_token": "T"},
        json={**OK, "department_id": [{"id": 1, "parentid": 0, "order": 9}, {"id": 2, "parentid": 1, "order": 8}]},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/department/get",
        match_params={"access_token": "T", "id": "1"},
        json={**OK, "department": {"id": 1, "name": "总部", "parentid": 0}},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/department/get",
        match_params={"access_token": "T", "id": "2"},
        json={"errcode": 60011, "errmsg": "no privilege to access/modify contact/party/agent"},
    )
    assert list_departments(authed, with_details=True) == [{"id": 1, "parentid": 0, "order": 9, "name": "总部"}]


def test_list_departments_without_details(authed: CorpClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/department/simplelist",
        match_params={"access_token": "T", "id": "7"},
        json={**OK, "department_id": [{"id": 7, "parentid": 1, "order": 1}]},
    )
    assert list_departments(authed, 7) == [{"id": 7, "parentid": 1, "order": 1}]


def test_departments_parent_first() -> None:
    departments = [
        {"id": 4, "parentid": 3},
        {"id": 3, "parentid": 1},
        {"id": 2, "parentid": 1},
        {"id": 1, "parentid": 0},
        {"id": 9, "parentid": 77},  # parent outside the visible range: treated as a root
        {"id": 5, "parentid": 6},  # a cycle must not hang or drop entries
        {"id": 6, "parentid": 5},
        {"id": 2, "parentid": 1},  # duplicate rows are kept once
    ]
    ordered = departments_parent_first(departments)
    ids = [d["id"] for d in ordered]
    assert sorted(ids) == [1, 2, 3, 4, 5, 6, 9]
    position = {dep_id: index for index, dep_id in enumerate(ids)}
    assert position[1] < position[3] < position[4]
    assert position[1] < position[2]
