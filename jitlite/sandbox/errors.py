"""Errcodes the sandbox answers with, and its exceptions.

Exception tree::

    JitliteError
    └── SandboxError            misuse of the sandbox itself (bad org file, unknown suite, ...)
        └── ApiError            an answer with a non-zero errcode, as WeCom or WeChat would send it
"""

from __future__ import annotations

from typing import Any

from jitlite.runtime.errors import JitliteError

__all__ = ["ERRMSG", "ApiError", "SandboxError", "errmsg"]

# The messages WeCom and WeChat put next to each errcode; clients must match on the code only.
ERRMSG: dict[int, str] = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40030: "invalid refresh_token",
    40058: "invalid parameter",
    40077: "invalid pre_auth_code",
    40080: "invalid suite_secret",
    40082: "invalid suite_token",
    40083: "invalid suite_id",
    40084: "invalid permanent_code",
    40085: "invalid suite_ticket",
    40125: "invalid appsecret",
    40163: "code been used",
    41001: "access_token missing",
    41002: "corpid missing",
    41003: "refresh_token missing",
    41004: "corpsecret missing",
    41008: "missing code",
    41009: "missing userid",
    41019: "missing department",
    41021: "suite_id missing",
    41022: "suite_access_token missing",
    41023: "suite_ticket missing",
    41024: "suite_secret missing",
    41025: "permanent_code missing",
    42001: "access_token expired",
    42002: "refresh_token expired",
    42007: "pre_auth_code expired",
    42009: "suite_access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
    60003: "department not found",
    60004: "parent department not found",
    60005: "department contains user",
    60006: "department contains sub-department",
    60007: "not allow to delete root department",
    60008: "department existed",
    60011: "no privilege to access/modify contact/party/agent",
    60102: "userid existed",
    60104: "mobile existed",
    60111: "userid not found",
}


def errmsg(errcode: int) -> str:
    """Return the message WeCom sends with `errcode`."""
    return ERRMSG.get(errcode, f"errcode {errcode}")


class SandboxError(JitliteError):
    """The sandbox was used wrongly: a bad org file, an unknown suite, an invalid argument."""


class ApiError(SandboxError):
    """An API answer with a non-zero errcode; the Flask app turns it into the JSON WeCom sends."""

    def __init__(self, errcode: int, detail: str = "", *, http_status: int = 200) -> None:
        self.errcode = errcode
        self.errmsg = errmsg(errcode) + (f", {detail}" if detail else "")
        self.http_status = http_status
        super().__init__(f"errcode {errcode}: {self.errmsg}")

    def to_json(self) -> dict[str, Any]:
        """Return the body WeCom would answer with."""
        return {"errcode": self.errcode, "errmsg": self.errmsg}
