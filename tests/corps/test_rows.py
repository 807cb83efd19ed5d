"""How WeCom's member and department records become CorpMember and CorpDept rows."""

from __future__ import annotations

import pytest

from jitlite.wecom.orgsync import dept_paths, member_row, member_status


def test_member_rows_from_wecom_records() -> None:
    row = member_row({"userid": "lina", "name": "李娜", "department": [4, 6], "is_leader_in_dept": [0, 1],
                      "main_department": 6, "mobile": "", "email": "", "biz_mail": "lina@biz.example",
                      "gender": "2", "status": 4, "alias": "Lina", "avatar": "https://a/0"}, "corps.X", "ww1")
    assert row == {"memberId": "lina", "name": "李娜", "nick": "Lina", "phone": None, "email": "lina@biz.example",
                   "photo": "https://a/0", "gender": 2, "position": None, "deptIds": ["4", "6"], "mainDeptId": "6",
                   "isLeader": True, "openUserId": None, "wecomStatus": 4, "status": "active",
                   "corpFullName": "corps.X", "corpId": "ww1"}
    # Third-party style: the name is the userid, values as text, departments as WeCom's comma-separated text.
    odd = member_row({"userid": "wo123", "department": "2,3", "is_leader_in_dept": "0,0", "status": "5",
                      "open_userid": "wo-open"}, "corps.X", "ww1")
    assert (odd["name"], odd["deptIds"], odd["mainDeptId"], odd["isLeader"]) == ("wo123", ["2", "3"], "2", False)
    assert (odd["status"], odd["wecomStatus"], odd["openUserId"]) == ("offline", 5, "wo-open")
    # A hand-made record (bulkRegister) may give the status in our words.
    assert member_row({"userid": "x", "status": "offline"}, "corps.X", "ww1")["status"] == "offline"
    with pytest.raises(ValueError, match="userid"):
        member_row({"name": "nobody"}, "corps.X", "ww1")


@pytest.mark.parametrize(("flags", "expected"), [
    ([0, 1], True), ([0, 0], False), ([], False), (None, False), (["0", "1"], True), ("0,1", True), ("0,0", False),
    ([2], True), (["2"], True), ("2", True)])
def test_leader_flags_from_a_list_or_text_read_alike(flags: object, expected: bool) -> None:
    assert member_row({"userid": "x", "is_leader_in_dept": flags}, "corps.X", "ww1")["isLeader"] is expected


@pytest.mark.parametrize("flags", [["yes"], "yes", [0, "x"], [None], 5])
def test_leader_flags_that_are_not_numbers_are_refused(flags: object) -> None:
    with pytest.raises(ValueError, match=r"leader flags \(is_leader_in_dept\) are numbers"):
        member_row({"userid": "x", "is_leader_in_dept": flags}, "corps.X", "ww1")


@pytest.mark.parametrize(("value", "expected"), [
    ("active", "active"), ("offline", "offline"), (1, "active"), ("1", "active"), (2, "offline"),
    ("2", "offline"), (4, "active"), (5, "offline")])
def test_status_words_and_aliases(value: object, expected: str) -> None:
    assert member_status(value) == expected


@pytest.mark.parametrize("value", ["gone", 3, None, ""])
def test_unknown_statuses_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="'active', 'offline', 1 or 2"):
        member_status(value)


def test_department_paths_follow_known_parents_only() -> None:
    paths = dept_paths({"1": None, "2": "1", "4": "2", "9": "8", "8": "9", "7": "99"})
    assert paths["4"] == "/1/2/4/" and paths["7"] == "/7/"  # 99 is outside the scope
    assert paths["9"].endswith("/9/") and paths["8"].endswith("/8/")  # a cycle ends, it does not loop
