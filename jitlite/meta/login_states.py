"""OAuth ``state`` values of login elements: issued at random, spent once, expiring, bounded in number.

A login page asks for a state when it builds the WeCom/WeChat login URL; the provider hands it back
with the code, and the login accepts the code only together with a state its own element issued.
That ties the code to the browser that started the login (no login CSRF) and makes each redirect
single use.

States live in a cache (``caches.Default`` unless told otherwise), so they work across processes
with the SQLite and Redis caches. Each login element has a ring of ``limit`` slots: issuing the
next state overwrites the oldest slot and deletes the state it held, so an unauthenticated caller
asking for states in a loop cannot grow the cache past ``2 × limit + 1`` keys per login element
(plus, for a moment, one key per issuer running at that instant).

Settings (``app.json`` or ``jitlite.toml`` ``[settings]``):

``loginStateTtlSeconds``  how long a state stays valid (default 600)
``loginStateLimit``       outstanding states per login element; the oldest are evicted (default 10 000)
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from ..runtime import clock
from ..runtime.errors import LoginStateInvalid

__all__ = [
    "DEFAULT_STATE_LIMIT",
    "DEFAULT_STATE_TTL",
    "LIMIT_SETTING",
    "MAX_STATE_LENGTH",
    "TTL_SETTING",
    "LoginStates",
    "StateCache",
]

DEFAULT_STATE_TTL = 600  # seconds; WeCom's and WeChat's codes themselves live five minutes
DEFAULT_STATE_LIMIT = 10_000
TTL_SETTING = "loginStateTtlSeconds"
LIMIT_SETTING = "loginStateLimit"
#: Longer values are refused unread; WeCom limits ``state`` to 128 bytes.
MAX_STATE_LENGTH = 128
_KEY_PREFIX = "loginState"
_INVALID = "the login state is invalid, used or expired; start the login again"


class StateCache(Protocol):
    """The part of jitlite's cache API that LoginStates needs (a cache element or a backend)."""

    def get(self, name: str) -> Any | None: ...

    def set(self, name: str, value: Any, ts: float | None = None, *, ttl: float | None = None) -> bool: ...

    def delete(self, name: str) -> bool: ...

    def incr(self, name: str, amount: int = 1) -> int: ...


class LoginStates:
    """The OAuth states of one login element (``scope``), kept in a cache."""

    def __init__(self, cache: StateCache, scope: str, *, ttl: float = DEFAULT_STATE_TTL,
                 limit: int = DEFAULT_STATE_LIMIT) -> None:
        if not isinstance(scope, str) or not scope:
            raise ValueError("LoginStates needs a scope: the fullName of the login element")
        self.cache = cache
        self.scope = scope
        self.ttl = _positive(ttl, TTL_SETTING, whole=False)
        self.limit = int(_positive(limit, LIMIT_SETTING, whole=True))

    @classmethod
    def of(cls, element: Any) -> LoginStates:
        """Return the states of a login element: the app's default cache and settings, its fullName."""
        settings: Mapping[str, Any] = element.app.settings
        return cls(element.app.defaultCache(), element.fullName,
                   ttl=settings.get(TTL_SETTING, DEFAULT_STATE_TTL),
                   limit=settings.get(LIMIT_SETTING, DEFAULT_STATE_LIMIT))

    # -- keys ----------------------------------------------------------------------------------

    def key(self, state: str) -> str:
        """Return the cache name of a state (its SHA-256, so the cache never holds the state itself)."""
        return self._state_name(_digest(state))

    def _state_name(self, digest: str) -> str:
        return f"{_KEY_PREFIX}:{self.scope}:s:{digest}"

    def _slot_key(self, slot: int) -> str:
        return f"{_KEY_PREFIX}:{self.scope}:slot:{slot}"

    def _counter_key(self) -> str:
        return f"{_KEY_PREFIX}:{self.scope}:seq"

    # -- issue and consume ---------------------------------------------------------------------

    def issue(self, **binding: str | None) -> str:
        """Return a fresh random state bound to the given values (e.g. ``corpId``), valid ``ttl`` seconds."""
        state = secrets.token_hex(24)  # 192 bits; hex because WeCom accepts only [a-zA-Z0-9] here
        digest = _digest(state)
        slot = self.cache.incr(self._counter_key()) % self.limit
        slot_key = self._slot_key(slot)
        evicted = self.cache.get(slot_key)
        if isinstance(evicted, str):
            # The ring wrapped: the state that held this slot is the oldest one, and goes.
            self.cache.delete(self._state_name(evicted))
        record = {"binding": dict(binding), "expiresAt": clock.now() + self.ttl}
        self.cache.set(self._state_name(digest), record, ttl=self.ttl)
        self.cache.set(slot_key, digest, ttl=self.ttl)
        return state

    def consume(self, state: object, **expected: str | None) -> dict[str, Any]:
        """Spend a state once and return its binding; raise LoginStateInvalid if it cannot be spent.

        A state is refused when it is not a short string, was never issued by this scope, was
        already spent, expired, or was evicted by newer ones; and when one of ``expected`` (a value
        other than None) differs from what the state was bound to. A refused state stays spent.
        """
        if not isinstance(state, str) or not state or len(state) > MAX_STATE_LENGTH:
            raise LoginStateInvalid(_INVALID)
        key = self.key(state)
        saved = self.cache.get(key)
        # delete() answers True to one caller only: of concurrent uses exactly one goes on.
        if not isinstance(saved, dict) or not self.cache.delete(key):
            raise LoginStateInvalid(_INVALID)
        expires_at = saved.get("expiresAt")
        # The cache drops the key after ttl on its own clock; this check uses jitlite's clock.
        if not isinstance(expires_at, (int, float)) or expires_at <= clock.now():
            raise LoginStateInvalid(_INVALID)
        binding: dict[str, Any] = saved.get("binding") or {}
        for name, value in expected.items():
            bound = binding.get(name)
            if value is not None and bound is not None and bound != value:
                raise LoginStateInvalid(f"the login state was issued for another {name}; start the login again")
        return binding


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _positive(value: Any, setting: str, *, whole: bool) -> float:
    """Return a setting's value if it is a positive finite number, else raise a ValueError naming it."""
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0
            or (whole and value != int(value))):
        kind = "a positive whole number" if whole else "a positive number of seconds"
        raise ValueError(f"setting {setting} must be {kind}, not {value!r}; fix it in app.json or "
                         "jitlite.toml [settings]")
    return float(value)
