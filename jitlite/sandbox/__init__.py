"""A local emulator of the WeCom and WeChat Open Platform APIs, login pages and callback pushes.

`create_sandbox(state)` returns a Flask app usable in process (``httpx.WSGITransport(app=...)``) or
behind a real server (`serve`, `SandboxServer`); `SandboxState` holds the emulated world and
offers, as Python methods, everything the admin API under /sandbox/ does. Fixtures for pytest are
in `jitlite.sandbox.testing`.
"""

from __future__ import annotations

from jitlite.sandbox.app import create_sandbox
from jitlite.sandbox.clock import Clock
from jitlite.sandbox.errors import ApiError, SandboxError
from jitlite.sandbox.models import (
    AuthCode,
    Authorization,
    Fault,
    PushRecord,
    RequestRecord,
    SelfBuiltApp,
    Suite,
    WeChatApp,
)
from jitlite.sandbox.orgdata import (
    Corp,
    Department,
    Member,
    Org,
    WeChatUser,
    generate_corp,
    generate_org,
    load_org,
)
from jitlite.sandbox.server import SandboxServer, build_state, serve
from jitlite.sandbox.state import CorpView, SandboxState

__all__ = [
    "ApiError",
    "AuthCode",
    "Authorization",
    "Clock",
    "Corp",
    "CorpView",
    "Department",
    "Fault",
    "Member",
    "Org",
    "PushRecord",
    "RequestRecord",
    "SandboxError",
    "SandboxServer",
    "SandboxState",
    "SelfBuiltApp",
    "Suite",
    "WeChatApp",
    "WeChatUser",
    "build_state",
    "create_sandbox",
    "generate_corp",
    "generate_org",
    "load_org",
    "serve",
]
