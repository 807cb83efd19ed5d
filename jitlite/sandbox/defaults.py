"""Fixed ids, secrets and the small default org the sandbox starts with.

These match the jitlite demo defaults, so a demo app configured with them talks to a fresh sandbox
without any setup. They are test credentials for a local emulator, never real ones.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_AGENT_SECRET",
    "DEFAULT_CORP_ID",
    "DEFAULT_CORP_NAME",
    "DEFAULT_ENCODING_AES_KEY",
    "DEFAULT_OPEN_ACCOUNT",
    "DEFAULT_ORG",
    "DEFAULT_PROVIDER_CORP_ID",
    "DEFAULT_PROVIDER_SECRET",
    "DEFAULT_SUITE_ID",
    "DEFAULT_SUITE_SECRET",
    "DEFAULT_SUITE_TOKEN",
    "DEFAULT_WECHAT_APPID",
    "DEFAULT_WECHAT_SECRET",
    "DEFAULT_WECHAT_USERS",
]

DEFAULT_SUITE_ID = "tjsandboxsuite0001"
DEFAULT_SUITE_SECRET = "sandbox-suite-secret"
DEFAULT_SUITE_TOKEN = "sandboxtoken"
DEFAULT_ENCODING_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

DEFAULT_CORP_ID = "wwsandboxcorp0001"
DEFAULT_CORP_NAME = "沙盒科技"
DEFAULT_AGENT_ID = 1000002
DEFAULT_AGENT_SECRET = "sandbox-corp-secret"

DEFAULT_WECHAT_APPID = "wxsandboxapp00001"
DEFAULT_WECHAT_SECRET = "sandbox-wechat-secret"
DEFAULT_OPEN_ACCOUNT = "sandbox-open-account"

DEFAULT_PROVIDER_CORP_ID = "wwsandboxprovider01"
DEFAULT_PROVIDER_SECRET = "sandbox-provider-secret"

_AVATAR = "https://sandbox.invalid/avatar/{}/0"

# The org in the JSON format documented in jitlite.sandbox.orgdata: five departments, ten members,
# one member in two departments, a leader per department, one disabled and one not yet active.
DEFAULT_ORG: dict[str, Any] = {
    "corps": [
        {
            "corpid": DEFAULT_CORP_ID,
            "corp_name": DEFAULT_CORP_NAME,
            "corp_full_name": "沙盒科技有限公司",
            "departments": [
                {"id": 1, "name": DEFAULT_CORP_NAME, "parentid": 0, "order": 1},
                {"id": 2, "name": "研发中心", "parentid": 1, "order": 1},
                {"id": 3, "name": "销售部", "parentid": 1, "order": 2},
                {"id": 4, "name": "后端组", "parentid": 2, "order": 1},
                {"id": 5, "name": "前端组", "parentid": 2, "order": 2},
            ],
            "members": [
                {"userid": "zhangwei", "name": "张伟", "department": [1], "position": "总经理",
                 "mobile": "13800000001", "email": "zhangwei@sandbox.example.com", "gender": 1,
                 "is_leader_in_dept": [1], "status": 1, "avatar": _AVATAR.format("zhangwei"),
                 "admin": True},
                {"userid": "wangfang", "name": "王芳", "department": [2], "position": "研发总监",
                 "mobile": "13800000002", "email": "wangfang@sandbox.example.com", "gender": 2,
                 "is_leader_in_dept": [1], "status": 1, "avatar": _AVATAR.format("wangfang")},
                {"userid": "lina", "name": "李娜", "department": [4], "position": "后端组长",
                 "mobile": "13800000003", "email": "lina@sandbox.example.com", "gender": 2,
                 "is_leader_in_dept": [1], "status": 1, "avatar": _AVATAR.format("lina")},
                {"userid": "liuyang", "name": "刘洋", "department": [4], "position": "后端工程师",
                 "mobile": "13800000004", "email": "liuyang@sandbox.example.com", "gender": 1,
                 "is_leader_in_dept": [0], "status": 1, "avatar": _AVATAR.format("liuyang")},
                {"userid": "chenjie", "name": "陈杰", "department": [4, 5], "position": "全栈工程师",
                 "mobile": "13800000005", "email": "chenjie@sandbox.example.com", "gender": 1,
                 "is_leader_in_dept": [0, 0], "status": 1, "avatar": _AVATAR.format("chenjie")},
                {"userid": "yangjing", "name": "杨静", "department": [5], "position": "前端组长",
                 "mobile": "13800000006", "email": "yangjing@sandbox.example.com", "gender": 2,
                 "is_leader_in_dept": [1], "status": 1, "avatar": _AVATAR.format("yangjing")},
                {"userid": "zhaolei", "name": "赵磊", "department": [5], "position": "前端工程师",
                 "mobile": "13800000007", "email": "zhaolei@sandbox.example.com", "gender": 1,
                 "is_leader_in_dept": [0], "status": 4, "avatar": _AVATAR.format("zhaolei")},
                {"userid": "huangmin", "name": "黄敏", "department": [3], "position": "销售经理",
                 "mobile": "13800000008", "email": "huangmin@sandbox.example.com", "gender": 2,
                 "is_leader_in_dept": [1], "status": 1, "avatar": _AVATAR.format("huangmin")},
                {"userid": "zhouqiang", "name": "周强", "department": [3], "position": "销售代表",
                 "mobile": "13800000009", "email": "zhouqiang@sandbox.example.com", "gender": 1,
                 "is_leader_in_dept": [0], "status": 1, "avatar": _AVATAR.format("zhouqiang")},
                {"userid": "wuxia", "name": "吴霞", "department": [3], "position": "销售代表",
                 "mobile": "13800000010", "email": "wuxia@sandbox.example.com", "gender": 2,
                 "is_leader_in_dept": [0], "status": 2, "avatar": _AVATAR.format("wuxia")},
            ],
        }
    ],
    "wechat_users": [
        {"key": "wx-alice", "nickname": "爱丽丝", "sex": 2, "province": "广东", "city": "深圳",
         "country": "CN", "headimgurl": _AVATAR.format("wx-alice")},
        {"key": "wx-bob", "nickname": "鲍勃", "sex": 1, "province": "浙江", "city": "杭州",
         "country": "CN", "headimgurl": _AVATAR.format("wx-bob")},
        {"key": "wx-carol", "nickname": "卡罗尔", "sex": 2, "province": "北京", "city": "北京",
         "country": "CN", "headimgurl": _AVATAR.format("wx-carol")},
    ],
}

# Kept as an alias so callers can name the WeChat users without digging into DEFAULT_ORG.
DEFAULT_WECHAT_USERS: list[dict[str, Any]] = DEFAULT_ORG["wechat_users"]
