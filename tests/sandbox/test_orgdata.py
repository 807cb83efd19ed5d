"""Org files, the org generator and the corp's own rules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_ORG
from jitlite.sandbox.errors import ApiError, SandboxError
from jitlite.sandbox.orgdata import Department, Member, generate_corp, generate_org, load_org


def test_default_org_loads_with_indexes() -> None:
    org = load_org(DEFAULT_ORG)
    corp = org.corps[DEFAULT_CORP_ID]
    assert corp.root_id == 1
    assert corp.subtree(2) == [2, 4, 5]
    assert corp.leaders(4) == ["lina"]
    assert [m.userid for m in corp.members_in([4, 5])] == ["lina", "liuyang", "chenjie", "yangjing", "zhaolei"]
    assert set(org.wechat_users) == {"wx-alice", "wx-bob", "wx-carol"}


def test_org_round_trips_through_its_file_format(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps(load_org(DEFAULT_ORG).to_dict(), ensure_ascii=False), encoding="utf-8")
    again = load_org(path)
    assert again.to_dict() == load_org(DEFAULT_ORG).to_dict()


def test_departments_may_be_listed_children_first() -> None:
    corp = {"corpid": "wwx", "corp_name": "X", "departments": [
        {"id": 3, "name": "C", "parentid": 2}, {"id": 2, "name": "B", "parentid": 1},
        {"id": 1, "name": "X", "parentid": 0}], "members": []}
    org = load_org({"corps": [corp]})
    assert org.corps["wwx"].subtree(1) == [1, 2, 3]


@pytest.mark.parametrize(("corp", "message"), [
    ({"corp_name": "X", "departments": []}, "'corpid' is required"),
    ({"corpid": "wwx", "corp_name": "X", "departments": [{"id": 2, "name": "B", "parentid": 1}]},
     "exactly one department with parentid 0"),
    ({"corpid": "wwx", "corp_name": "X", "departments": [
        {"id": 1, "name": "X", "parentid": 0}, {"id": 2, "name": "B", "parentid": 9}]},
     "missing parent or form a cycle"),
    ({"corpid": "wwx", "corp_name": "X", "departments": [{"id": 1, "name": "X", "parentid": 0}],
      "members": [{"userid": "a", "name": "A", "department": [7]}]},
     "corp wwx members[0]: department not found"),
    ({"corpid": "wwx", "corp_name": "X", "departments": [{"id": 1, "name": "X", "parentid": 0}],
      "members": [{"userid": "a", "name": "A", "department": [1], "colour": "red"}]},
     "unknown keys ['colour']"),
])
def test_bad_org_entries_name_the_entry(corp: dict[str, object], message: str) -> None:
    with pytest.raises(SandboxError) as info:
        load_org({"corps": [corp]})
    assert message in str(info.value)


def test_bad_json_file_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text('{"corps": [\n  {,]}', encoding="utf-8")
    with pytest.raises(SandboxError, match=r"org.json: not valid JSON \(line 2, column 4\)"):
        load_org(path)


def test_corp_rules_answer_wecom_errcodes() -> None:
    corp = load_org(DEFAULT_ORG).corps[DEFAULT_CORP_ID]
    cases = [
        (lambda: corp.delete_department(1), 60007),
        (lambda: corp.delete_department(2), 60006),
        (lambda: corp.delete_department(4), 60005),
        (lambda: corp.add_department(Department(4, "dup", 1)), 60008),
        (lambda: corp.add_department(Department(9, "orphan", 99)), 60004),
        (lambda: corp.update_department(2, parentid=4), 40058),
        (lambda: corp.add_member(Member("lina", "again", [1])), 60102),
        (lambda: corp.add_member(Member("new", "N", [1], mobile="13800000001")), 60104),
        (lambda: corp.add_member(Member("new", "N", [42])), 60003),
        (lambda: corp.get_member("nobody"), 60111),
    ]
    for action, errcode in cases:
        with pytest.raises(ApiError) as info:
            action()
        assert info.value.errcode == errcode


def test_moving_and_editing_keep_indexes_right() -> None:
    corp = load_org(DEFAULT_ORG).corps[DEFAULT_CORP_ID]
    corp.update_department(5, parentid=3)
    assert corp.subtree(3) == [3, 5]
    assert corp.subtree(2) == [2, 4]
    corp.update_member("chenjie", department=[3])
    assert "chenjie" not in [m.userid for m in corp.members_in([4, 5])]
    assert corp.members["chenjie"].is_leader_in_dept == [0]
    corp.delete_member("liuyang")
    corp.delete_member("lina")
    corp.delete_department(4)
    assert 4 not in corp.departments
    assert corp.subtree(2) == [2]


def test_generator_is_deterministic_for_a_seed_and_differs_between_seeds() -> None:
    first = generate_org(300, 30, seed=7).to_dict()
    again = generate_org(300, 30, seed=7).to_dict()
    other = generate_org(300, 30, seed=8).to_dict()
    assert first == again
    assert first != other
    assert [m["userid"] for m in first["corps"][0]["members"]] != [
        m["userid"] for m in other["corps"][0]["members"]]


def test_generated_org_looks_like_an_org() -> None:
    corp = generate_corp(2000, 120, seed=3, max_depth=3)
    assert len(corp.members) == 2000
    assert len(corp.departments) == 120
    assert max(corp.department_depth(d) for d in corp.departments) <= 3
    mobiles = [m.mobile for m in corp.members.values()]
    emails = [m.email for m in corp.members.values()]
    assert len(set(mobiles)) == len(mobiles) and all(len(m) == 11 and m[0] == "1" for m in mobiles)
    assert len(set(emails)) == len(emails)
    # Every department that has members has exactly one leader.
    for dept_id in corp.departments:
        members = corp.members_in([dept_id])
        if members:
            assert len(corp.leaders(dept_id)) == 1, dept_id
    names = [m.name for m in corp.members.values()]
    assert all(2 <= len(name) <= 4 and "\u4e00" <= name[0] <= "\u9fff" for name in names)


def test_hundred_thousand_members_generate_quickly() -> None:
    started = time.perf_counter()
    corp = generate_corp(100_000, 2_000, seed=1)
    elapsed = time.perf_counter() - started
    assert len(corp.members) == 100_000
    assert len(corp.departments) == 2_000
    assert elapsed < 5.0, f"took {elapsed:.2f} s"
