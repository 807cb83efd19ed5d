"""Org charts for the sandbox: WeCom corps and WeChat users, loaded from JSON or generated.

An org file is JSON of this shape (optional keys shown with their defaults)::

    {
      "corps": [
        {
          "corpid": "wwsandboxcorp0001",          # required, unique
          "corp_name": "沙盒科技",                 # required: the short name WeCom shows
          "corp_full_name": "",                    # optional: the registered name
          "departments": [                         # required; exactly one root, with parentid 0
            {"id": 1, "name": "沙盒科技", "parentid": 0, "order": 0, "name_en": ""},
            {"id": 2, "name": "研发中心", "parentid": 1, "order": 1}
          ],
          "members": [
            {
              "userid": "zhangsan",                # required, unique in the corp
              "name": "张三",                      # required
              "department": [1, 2],                # required: department ids, at least one
              "mobile": "", "email": "", "position": "",
              "gender": 0,                         # 0 unknown, 1 male, 2 female
              "is_leader_in_dept": [0, 0],         # one flag per entry of "department"
              "status": 1,                         # 1 active, 2 disabled, 4 not yet active, 5 quit
              "avatar": "",
              "main_department": 1,                # defaults to the first department
              "order": [0, 0], "direct_leader": [], "alias": "", "telephone": "", "address": "",
              "biz_mail": "",
              "admin": false                       # a corp admin: get_login_info answers usertype 2
            }
          ]
        }
      ],
      "wechat_users": [                            # people with a WeChat account, for /sns/
        {"key": "wx-alice", "nickname": "爱丽丝", "sex": 2, "province": "", "city": "",
         "country": "CN", "headimgurl": ""}
      ]
    }

Departments may be listed in any order; a parent that does not exist, a second root or a cycle is
an error that names the corp and the entry. `generate_org` builds a large org deterministically for
a seed instead (Chinese names, unique mobiles and emails, a leader per department, nested
departments of bounded depth).
"""

from __future__ import annotations

import gc
import json
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from jitlite.sandbox.errors import ApiError, SandboxError

__all__ = [
    "Corp",
    "Department",
    "Member",
    "Org",
    "WeChatUser",
    "generate_corp",
    "generate_org",
    "generate_wechat_users",
    "load_org",
]

ROOT_PARENT = 0


@dataclass(slots=True)
class Department:
    """One WeCom department."""

    id: int
    name: str
    parentid: int
    order: int = 0
    name_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the department in the org-file format."""
        return {"id": self.id, "name": self.name, "parentid": self.parentid, "order": self.order,
                "name_en": self.name_en}


@dataclass(slots=True)
class Member:
    """One WeCom member (成员)."""

    userid: str
    name: str
    department: list[int]
    mobile: str = ""
    email: str = ""
    position: str = ""
    gender: int = 0
    is_leader_in_dept: list[int] = field(default_factory=list)
    status: int = 1
    avatar: str = ""
    main_department: int = 0
    order: list[int] = field(default_factory=list)
    direct_leader: list[str] = field(default_factory=list)
    alias: str = ""
    telephone: str = ""
    address: str = ""
    biz_mail: str = ""
    admin: bool = False

    def __post_init__(self) -> None:
        # Fill the per-department lists so every consumer can zip them with `department`.
        count = len(self.department)
        if len(self.is_leader_in_dept) != count:
            self.is_leader_in_dept = (list(self.is_leader_in_dept) + [0] * count)[:count]
        if len(self.order) != count:
            self.order = (list(self.order) + [0] * count)[:count]
        if not self.main_department or self.main_department not in self.department:
            self.main_department = self.department[0] if self.department else 0

    def to_dict(self) -> dict[str, Any]:
        """Return the member in the org-file format."""
        return {f.name: _copy(getattr(self, f.name)) for f in fields(self)}

    def leads(self, dept_id: int) -> bool:
        """Return whether the member leads department `dept_id`."""
        for dept, flag in zip(self.department, self.is_leader_in_dept, strict=False):
            if dept == dept_id:
                return bool(flag)
        return False


@dataclass(slots=True)
class WeChatUser:
    """A person with a WeChat account; openIds and unionIds are derived from `key`."""

    key: str
    nickname: str
    sex: int = 0
    province: str = ""
    city: str = ""
    country: str = "CN"
    headimgurl: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the user in the org-file format."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


class Corp:
    """A WeCom corp: its departments and members, with the indexes the API needs."""

    def __init__(self, corp_id: str, corp_name: str, corp_full_name: str = "") -> None:
        self.corp_id = corp_id
        self.corp_name = corp_name
        self.corp_full_name = corp_full_name or corp_name
        self.departments: dict[int, Department] = {}
        self.members: dict[str, Member] = {}
        self._children: dict[int, list[int]] = {}
        # dict as an ordered set: members of a department in the order they joined it.
        self._dept_members: dict[int, dict[str, None]] = {}
        self._mobiles: dict[str, str] = {}
        self._scope_cache: dict[tuple[int, ...], frozenset[int]] = {}
        # Members' JSON as the API last sent it, per way of seeing them: userid -> view -> (member, text).
        # A changed member is a new Member object, so a cached text is reused only for the same object.
        self._encoded: dict[str, dict[tuple[Any, ...], tuple[Member, str]]] = {}

    # -- departments -------------------------------------------------------------------------

    @property
    def root_id(self) -> int:
        """Return the id of the root department."""
        for dept_id in self._children.get(ROOT_PARENT, ()):
            return dept_id
        raise SandboxError(f"corp {self.corp_id} has no root department")

    def add_department(self, dept: Department) -> Department:
        """Add a department under an existing parent (or as the root)."""
        if dept.id <= 0:
            raise ApiError(40058, f"department id must be positive, got {dept.id}")
        if dept.id in self.departments:
            raise ApiError(60008, f"department {dept.id}")
        if dept.parentid == ROOT_PARENT:
            if self._children.get(ROOT_PARENT):
                raise ApiError(40058, f"corp {self.corp_id} already has a root department")
        elif dept.parentid not in self.departments:
            raise ApiError(60004, f"parentid {dept.parentid}")
        self.departments[dept.id] = dept
        self._children.setdefault(dept.parentid, []).append(dept.id)
        self._dept_members.setdefault(dept.id, {})
        self._scope_cache.clear()
        return dept

    def update_department(self, dept_id: int, **changes: Any) -> Department:
        """Change a department's name, name_en, order or parent."""
        dept = self.get_department(dept_id)
        unknown = set(changes) - {"name", "name_en", "order", "parentid"}
        if unknown:
            raise ApiError(40058, f"unknown department fields {sorted(unknown)}")
        new_parent = changes.get("parentid", dept.parentid)
        if new_parent != dept.parentid:
            if dept.parentid == ROOT_PARENT:
                raise ApiError(40058, "the root department cannot move")
            if new_parent not in self.departments:
                raise ApiError(60004, f"parentid {new_parent}")
            if new_parent in self.subtree(dept_id):
                raise ApiError(40058, "a department cannot move under itself")
            self._children[dept.parentid].remove(dept_id)
            self._children.setdefault(new_parent, []).append(dept_id)
            self._scope_cache.clear()
        for key, value in changes.items():
            setattr(dept, key, value)
        return dept

    def delete_department(self, dept_id: int) -> Department:
        """Delete an empty leaf department."""
        dept = self.get_department(dept_id)
        if dept.parentid == ROOT_PARENT:
            raise ApiError(60007)
        if self._children.get(dept_id):
            raise ApiError(60006)
        if self._dept_members.get(dept_id):
            raise ApiError(60005)
        del self.departments[dept_id]
        self._children[dept.parentid].remove(dept_id)
        self._children.pop(dept_id, None)
        self._dept_members.pop(dept_id, None)
        self._scope_cache.clear()
        return dept

    def get_department(self, dept_id: int) -> Department:
        """Return a department or raise 60003."""
        try:
            return self.departments[dept_id]
        except KeyError:
            raise ApiError(60003, f"department {dept_id}") from None

    def subtree(self, dept_id: int) -> list[int]:
        """Return `dept_id` and all departments below it, parents before children."""
        result: list[int] = []
        stack = [dept_id]
        while stack:
            current = stack.pop()
            result.append(current)
            # Reversed so siblings come out in their stored order.
            stack.extend(reversed(self._children.get(current, ())))
        return result

    def department_depth(self, dept_id: int) -> int:
        """Return how many ancestors the department has (the root has 0)."""
        depth = 0
        current = self.departments[dept_id]
        while current.parentid != ROOT_PARENT:
            depth += 1
            current = self.departments[current.parentid]
        return depth

    def scope(self, allow_party: Sequence[int] | None) -> frozenset[int] | None:
        """Return the departments an app with `allow_party` can see, or None for all of them."""
        if allow_party is None:
            return None
        key = tuple(sorted(set(allow_party)))
        cached = self._scope_cache.get(key)
        if cached is None:
            seen: set[int] = set()
            for dept_id in key:
                if dept_id in self.departments and dept_id not in seen:
                    seen.update(self.subtree(dept_id))
            cached = frozenset(seen)
            self._scope_cache[key] = cached
        return cached

    def leaders(self, dept_id: int) -> list[str]:
        """Return the userids that lead department `dept_id`."""
        return [userid for userid in self._dept_members.get(dept_id, ())
                if self.members[userid].leads(dept_id)]

    # -- members -----------------------------------------------------------------------------

    def add_member(self, member: Member) -> Member:
        """Add a member to existing departments."""
        if not member.userid:
            raise ApiError(41009)
        if member.userid in self.members:
            raise ApiError(60102, member.userid)
        self._check_member(member)
        self.members[member.userid] = member
        self._index_member(member)
        return member

    def add_trusted_member(self, member: Member) -> Member:
        """Add a member already known to be valid, skipping the checks (for generated orgs)."""
        self.members[member.userid] = member
        self._index_member(member)
        return member

    def update_member(self, userid: str, **changes: Any) -> Member:
        """Change a member's fields; `department` moves it between departments."""
        old = self.get_member(userid)
        allowed = {f.name for f in fields(Member)} - {"userid"}
        unknown = set(changes) - allowed
        if unknown:
            raise ApiError(40058, f"unknown member fields {sorted(unknown)}")
        if "department" in changes:
            # New departments invalidate the per-department lists unless they came along.
            changes.setdefault("is_leader_in_dept", [])
            changes.setdefault("order", [])
            changes.setdefault("main_department", 0)
        new = replace(old, **changes)
        self._check_member(new, replacing=old)
        self._unindex_member(old)
        self.members[userid] = new
        self._index_member(new)
        return new

    def delete_member(self, userid: str) -> Member:
        """Remove a member."""
        member = self.get_member(userid)
        self._unindex_member(member)
        del self.members[userid]
        self._encoded.pop(userid, None)
        return member

    def encoded_member(self, member: Member, view: tuple[Any, ...], encode: Callable[[Member], str]) -> str:
        """Return `encode(member)`, cached per member and view until the member changes.

        Serving 100 000 members spends most of its time building and encoding the same JSON again;
        the cache makes a repeated sync cost what the network costs.
        """
        per_view = self._encoded.setdefault(member.userid, {})
        cached = per_view.get(view)
        if cached is not None and cached[0] is member:
            return cached[1]
        text = encode(member)
        per_view[view] = (member, text)
        return text

    def get_member(self, userid: str) -> Member:
        """Return a member or raise 60111."""
        try:
            return self.members[userid]
        except KeyError:
            raise ApiError(60111, f"userid {userid}") from None

    def members_in(self, dept_ids: Iterable[int]) -> list[Member]:
        """Return the members of the given departments, each once, in department order."""
        seen: dict[str, None] = {}
        for dept_id in dept_ids:
            for userid in self._dept_members.get(dept_id, ()):
                seen.setdefault(userid, None)
        return [self.members[userid] for userid in seen]

    def member_in_scope(self, member: Member, scope: frozenset[int] | None,
                        allow_user: Sequence[str] = ()) -> bool:
        """Return whether an app with visible departments `scope` can see `member`."""
        if scope is None or member.userid in allow_user:
            return True
        return any(dept in scope for dept in member.department)

    def iter_scoped_members(self, scope: frozenset[int] | None,
                            allow_user: Sequence[str] = ()) -> Iterator[Member]:
        """Yield the visible members in the order they were added."""
        for member in self.members.values():
            if self.member_in_scope(member, scope, allow_user):
                yield member

    def _check_member(self, member: Member, replacing: Member | None = None) -> None:
        if not member.department:
            raise ApiError(41019, f"member {member.userid} has no department")
        for dept_id in member.department:
            if dept_id not in self.departments:
                raise ApiError(60003, f"department {dept_id}")
        if member.mobile:
            owner = self._mobiles.get(member.mobile)
            if owner is not None and owner != member.userid:
                raise ApiError(60104, member.mobile)

    def _index_member(self, member: Member) -> None:
        for dept_id in member.department:
            self._dept_members[dept_id][member.userid] = None
        if member.mobile:
            self._mobiles[member.mobile] = member.userid

    def _unindex_member(self, member: Member) -> None:
        for dept_id in member.department:
            self._dept_members.get(dept_id, {}).pop(member.userid, None)
        if member.mobile and self._mobiles.get(member.mobile) == member.userid:
            del self._mobiles[member.mobile]

    # -- (de)serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the corp in the org-file format."""
        return {
            "corpid": self.corp_id,
            "corp_name": self.corp_name,
            "corp_full_name": self.corp_full_name,
            "departments": [self.departments[d].to_dict() for d in self.subtree(self.root_id)],
            "members": [m.to_dict() for m in self.members.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "corp") -> Corp:
        """Build a corp from its org-file entry, naming the entry in any error."""
        corp_id = _required(data, "corpid", str, where)
        corp = cls(corp_id, _required(data, "corp_name", str, where),
                   str(data.get("corp_full_name", "")))
        where = f"corp {corp_id}"
        depts = [_department(item, f"{where} departments[{i}]")
                 for i, item in enumerate(_list(data, "departments", where))]
        roots = [d for d in depts if d.parentid == ROOT_PARENT]
        if len(roots) != 1:
            raise SandboxError(f"{where}: needs exactly one department with parentid 0, "
                               f"found {len(roots)}")
        # Add parents before children whatever order the file lists them in.
        pending = {d.id: d for d in depts}
        if len(pending) != len(depts):
            raise SandboxError(f"{where}: duplicate department ids")
        ready = [roots[0]]
        by_parent: dict[int, list[Department]] = {}
        for dept in depts:
            if dept.parentid != ROOT_PARENT:
                by_parent.setdefault(dept.parentid, []).append(dept)
        while ready:
            dept = ready.pop()
            corp.add_department(dept)
            del pending[dept.id]
            ready.extend(reversed(by_parent.get(dept.id, [])))
        if pending:
            stray = sorted(pending)[:5]
            raise SandboxError(f"{where}: departments {stray} have a missing parent or form a cycle")
        for i, item in enumerate(_list(data, "members", where)):
            entry = f"{where} members[{i}]"
            try:
                corp.add_member(_member(item, entry))
            except ApiError as exc:
                raise SandboxError(f"{entry}: {exc.errmsg}") from exc
        return corp


@dataclass
class Org:
    """Every corp and WeChat user the sandbox knows."""

    corps: dict[str, Corp] = field(default_factory=dict)
    wechat_users: dict[str, WeChatUser] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the org in the org-file format."""
        return {"corps": [c.to_dict() for c in self.corps.values()],
                "wechat_users": [u.to_dict() for u in self.wechat_users.values()]}


def load_org(source: str | os.PathLike[str] | Mapping[str, Any]) -> Org:
    """Load an org from a JSON file path or from the already-parsed mapping."""
    if isinstance(source, Mapping):
        data: Any = source
        label = "org"
    else:
        path = Path(source)
        label = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SandboxError(f"cannot read org file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise SandboxError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): "
                               f"{exc.msg}") from exc
    if not isinstance(data, Mapping):
        raise SandboxError(f"{label}: the top level must be an object with a 'corps' list")
    org = Org()
    for i, item in enumerate(_list(data, "corps", label)):
        corp = Corp.from_dict(_mapping(item, f"{label} corps[{i}]"), f"{label} corps[{i}]")
        if corp.corp_id in org.corps:
            raise SandboxError(f"{label}: corp {corp.corp_id} is listed twice")
        org.corps[corp.corp_id] = corp
    for i, item in enumerate(data.get("wechat_users", []) or []):
        user = _wechat_user(item, f"{label} wechat_users[{i}]")
        org.wechat_users[user.key] = user
    return org


# -- validation helpers --------------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SandboxError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SandboxError(f"{where}: '{key}' must be a list")
    return value


def _required(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise SandboxError(f"{where}: '{key}' is required")
    value = data[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise SandboxError(f"{where}: '{key}' must be {kind.__name__}, got {value!r}")
    if kind is str and not value:
        raise SandboxError(f"{where}: '{key}' must not be empty")
    return value


def _int_list(data: Mapping[str, Any], key: str, where: str) -> list[int]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise SandboxError(f"{where}: '{key}' must be a list of integers")
    return list(value)


def _department(item: Any, where: str) -> Department:
    data = _mapping(item, where)
    return Department(
        id=_required(data, "id", int, where),
        name=_required(data, "name", str, where),
        parentid=int(data.get("parentid", 1)),
        order=int(data.get("order", 0)),
        name_en=str(data.get("name_en", "")),
    )


_MEMBER_TEXT = ("mobile", "email", "position", "avatar", "alias", "telephone", "address", "biz_mail")


def _member(item: Any, where: str) -> Member:
    data = _mapping(item, where)
    unknown = set(data) - {f.name for f in fields(Member)}
    if unknown:
        raise SandboxError(f"{where}: unknown keys {sorted(unknown)}")
    departments = _int_list(data, "department", where)
    if not departments:
        raise SandboxError(f"{where}: 'department' needs at least one department id")
    direct_leader = data.get("direct_leader", [])
    if not isinstance(direct_leader, list):
        raise SandboxError(f"{where}: 'direct_leader' must be a list of userids")
    return Member(
        userid=_required(data, "userid", str, where),
        name=_required(data, "name", str, where),
        department=departments,
        gender=int(data.get("gender", 0)),
        is_leader_in_dept=_int_list(data, "is_leader_in_dept", where),
        status=int(data.get("status", 1)),
        main_department=int(data.get("main_department", 0)),
        order=_int_list(data, "order", where),
        direct_leader=[str(v) for v in direct_leader],
        admin=bool(data.get("admin", False)),
        **{key: str(data.get(key, "")) for key in _MEMBER_TEXT},
    )


def _wechat_user(item: Any, where: str) -> WeChatUser:
    data = _mapping(item, where)
    return WeChatUser(
        key=_required(data, "key", str, where),
        nickname=_required(data, "nickname", str, where),
        sex=int(data.get("sex", 0)),
        province=str(data.get("province", "")),
        city=str(data.get("city", "")),
        country=str(data.get("country", "CN")),
        headimgurl=str(data.get("headimgurl", "")),
    )


# -- generation ----------------------------------------------------------------------------------

# (hanzi, pinyin) pairs: names in Chinese, userids and emails in pinyin.
_SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("苏", "su"), ("魏", "wei"), ("吕", "lv"), ("丁", "ding"),
    ("任", "ren"), ("沈", "shen"), ("欧阳", "ouyang"), ("司马", "sima"),
)
_GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("英", "ying"), ("华", "hua"), ("玉", "yu"),
    ("兰", "lan"), ("萍", "ping"), ("红", "hong"), ("鹏", "peng"), ("飞", "fei"), ("建", "jian"),
    ("文", "wen"), ("辉", "hui"), ("宇", "yu"), ("欣", "xin"), ("婷", "ting"), ("浩", "hao"),
    ("凯", "kai"), ("佳", "jia"), ("颖", "ying"), ("琳", "lin"), ("晨", "chen"), ("雪", "xue"),
    ("博", "bo"), ("瑞", "rui"), ("思", "si"), ("梓", "zi"), ("晓", "xiao"), ("海", "hai"),
    ("云", "yun"), ("峰", "feng"), ("亮", "liang"), ("慧", "hui"), ("倩", "qian"), ("宁", "ning"),
    ("志", "zhi"), ("晶", "jing"), ("波", "bo"), ("嘉", "jia"), ("子", "zi"), ("涵", "han"),
)
_POSITIONS = (
    "工程师", "高级工程师", "测试工程师", "架构师", "产品经理", "设计师", "运营专员", "销售代表",
    "客户经理", "财务专员", "人事专员", "行政助理", "法务顾问", "数据分析师", "项目经理",
)
_TOP_UNITS = (
    "研发中心", "产品中心", "销售中心", "市场部", "人力资源部", "财务部", "行政部", "法务部",
    "客户成功部", "运营中心", "数据中心", "供应链中心",
)
_CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "苏州", "重庆", "天津")
_SUB_UNITS = ("一部", "二部", "三部", "项目组", "技术组", "产品组", "交付组", "支持组", "平台组", "增长组")
_MOBILE_PREFIXES = ("13", "15", "17", "18", "19")
# A prime coprime with 10**9, so index * _MOBILE_STEP mod 10**9 never repeats below 10**9 members.
_MOBILE_STEP = 7919


def generate_corp(members: int, departments: int, *, seed: int = 0, corp_id: str = "wwsandboxcorp0001",
                  corp_name: str = "沙盒科技", max_depth: int = 5) -> Corp:
    """Build a corp of `members` members over `departments` departments, the same for the same seed."""
    # Hundreds of thousands of new container objects set off the cyclic collector again and again,
    # each pass scanning everything built so far; none of them can form a cycle, so pause it.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate_corp(members, departments, seed, corp_id, corp_name, max_depth)
    finally:
        if was_enabled:
            gc.enable()


def _generate_corp(members: int, departments: int, seed: int, corp_id: str, corp_name: str,
                   max_depth: int) -> Corp:
    if members < 0 or departments < 1:
        raise SandboxError("a generated corp needs at least one department and no negative members")
    if max_depth < 1:
        raise SandboxError("max_depth must be at least 1")
    rng = random.Random(f"{seed}:{corp_id}")
    # random() is a C call; randrange costs ten times more, which shows at 100 000 members.
    rand = rng.random
    corp = Corp(corp_id, corp_name, f"{corp_name}有限公司")
    corp.add_department(Department(1, corp_name, ROOT_PARENT, 0))
    depth = {1: 0}
    # Parents that may still take children; the root's direct units come first so the tree has a
    # recognisable top level.
    open_parents = [1]
    sibling_names: dict[int, set[str]] = {1: set()}
    for dept_id in range(2, departments + 1):
        top_level = dept_id <= min(departments, len(_TOP_UNITS) + 1)
        parent = 1 if top_level else open_parents[int(rand() * len(open_parents))]
        if parent == 1:
            base = _TOP_UNITS[(dept_id - 2) % len(_TOP_UNITS)]
        else:
            base = _CITIES[int(rand() * len(_CITIES))] + _SUB_UNITS[int(rand() * len(_SUB_UNITS))]
        name = base
        taken = sibling_names.setdefault(parent, set())
        suffix = 2
        while name in taken:
            name = f"{base}{suffix}"
            suffix += 1
        taken.add(name)
        corp.add_department(Department(dept_id, name, parent, len(taken)))
        depth[dept_id] = depth[parent] + 1
        if depth[dept_id] < max_depth:
            open_parents.append(dept_id)
    # Members go to units below the root unless the root is all there is.
    homes = list(range(2, departments + 1)) or [1]
    led: set[int] = set()
    userid_counts: dict[str, int] = {}
    domain = f"{corp_id.lower()}.example.com"
    n_surnames, n_given, n_homes, n_positions = len(_SURNAMES), len(_GIVEN), len(homes), len(_POSITIONS)
    for index in range(members):
        surname, base_id = _SURNAMES[int(rand() * n_surnames)]
        name = surname
        for _ in range(1 if rand() < 0.35 else 2):
            given, given_py = _GIVEN[int(rand() * n_given)]
            name += given
            base_id += given_py
        seen = userid_counts.get(base_id, 0) + 1
        userid_counts[base_id] = seen
        userid = base_id if seen == 1 else f"{base_id}{seen}"
        depts = [homes[int(rand() * n_homes)]]
        if n_homes > 1 and rand() < 0.08:
            second = homes[int(rand() * n_homes)]
            if second != depts[0]:
                depts.append(second)
        leader_flags = []
        for dept_id in depts:
            leader_flags.append(0 if dept_id in led else 1)
            led.add(dept_id)
        roll = rand()
        status = 2 if roll < 0.02 else 4 if roll < 0.05 else 1
        mobile_tail = (index * _MOBILE_STEP + seed) % 1_000_000_000
        corp.add_trusted_member(Member(
            userid=userid,
            name=name,
            department=depts,
            mobile=f"{_MOBILE_PREFIXES[index % len(_MOBILE_PREFIXES)]}{mobile_tail:09d}",
            email=f"{userid}@{domain}",
            position="负责人" if leader_flags[0] else _POSITIONS[int(rand() * n_positions)],
            gender=1 + int(rand() * 2),
            is_leader_in_dept=leader_flags,
            status=status,
            avatar=f"https://sandbox.invalid/avatar/{userid}/0",
            main_department=depts[0],
            order=[0] * len(depts),
        ))
    return corp


def generate_wechat_users(count: int, *, seed: int = 0) -> list[WeChatUser]:
    """Build `count` WeChat users, the same for the same seed."""
    rng = random.Random(f"{seed}:wechat")
    users = []
    for index in range(count):
        surname, _ = _SURNAMES[rng.randrange(len(_SURNAMES))]
        given, _ = _GIVEN[rng.randrange(len(_GIVEN))]
        city = rng.choice(_CITIES)
        users.append(WeChatUser(key=f"wx-user-{index:05d}", nickname=f"{surname}{given}",
                                sex=1 + rng.randrange(2), province=city, city=city, country="CN",
                                headimgurl=f"https://sandbox.invalid/avatar/wx-user-{index:05d}/0"))
    return users


def generate_org(members: int, departments: int, *, seed: int = 0,
                 corp_id: str = "wwsandboxcorp0001", corp_name: str = "沙盒科技",
                 max_depth: int = 5, wechat_users: int = 20) -> Org:
    """Build an org of one generated corp and some WeChat users, the same for the same seed."""
    corp = generate_corp(members, departments, seed=seed, corp_id=corp_id, corp_name=corp_name,
                         max_depth=max_depth)
    users = generate_wechat_users(wechat_users, seed=seed)
    return Org(corps={corp.corp_id: corp}, wechat_users={u.key: u for u in users})
