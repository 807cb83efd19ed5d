"""Token caching, single-flight refresh and the bounded retry policy around every API call."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TypeVar

from ..runtime import clock as runtime_clock
from .cache import LocalTokenCache, TokenCache
from .errors import RateLimitedError, TokenExpiredError, UpstreamBusyError, WeComAPIError, WeComError

__all__ = ["Credential", "TokenFetcher", "TokenManager"]

T = TypeVar("T")
TokenFetcher = Callable[[], tuple[str, float]]

_PREFIX = "jitlite:wecom"
_KINDS = frozenset({"corp", "proxy_corp", "third_corp", "suite", "provider", "wechat"})
_WAIT_FIRST = 0.002  # seconds before a waiter first re-reads the cache; doubles up to _WAIT_MAX
_WAIT_MAX = 0.05


@dataclass(frozen=True)
class Credential:
    """Identifies one token: kind, owner (corp, suite or app id), agent and a hash of the secret."""

    kind: str
    owner: str
    agent: str
    secret_sha256: str

    @classmethod
    def of(cls, kind: str, owner: str, secret: str, agent: str | int | None = None) -> Credential:
        """Build the credential for a secret, keeping only its SHA-256."""
        if kind not in _KINDS:
            raise ValueError(f"unknown credential kind {kind!r}; expected one of {sorted(_KINDS)}")
        if not owner:
            raise ValueError(f"{kind} credential needs a non-empty corp/suite/app id")
        if not secret:
            raise ValueError(f"{kind} credential for {owner} needs a non-empty secret")
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        return cls(kind, owner, "" if agent is None else str(agent), digest)

    @property
    def cache_key(self) -> str:
        """Return the cache key of this credential's token."""
        return f"{_PREFIX}:token:{self.kind}:{self.owner}:{self.agent}:{self.secret_sha256}"

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, owner={self.owner!r}, agent={self.agent!r})"


class TokenManager:
    """Cache tokens per credential, refresh them single-flight and run calls with bounded retries.

    Policy: a token is served until ``expires_in - margin``; a refresh takes the credential's lock
    and re-reads the cache first, so concurrent callers cause one upstream call. A rejected token
    (40014/42001/42009/40082, 40001 outside token endpoints) is invalidated and the call retried
    once. -1, HTTP 5xx and 45033 are retried with jittered exponential backoff, at most
    ``max_tries`` tries in all. 45009 opens a circuit for the owner (corp, suite or app) for
    ``circuit_seconds``, stored in the cache so every process sharing it stops calling.
    """

    def __init__(
        self,
        cache: TokenCache | None = None,
        *,
        margin: float = 300.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_tries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 5.0,
        circuit_seconds: float = 60.0,
        lock_ttl: float = 30.0,
        lock_wait: float | None = None,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if circuit_seconds < 60:
            raise ValueError("circuit_seconds must be at least 60 (WeCom's 45009 window)")
        # Wall-clock time (token expiry, the 45009 circuit) comes from the app's one clock unless a
        # test passes its own; it is read at every use, so freezegun and use_clock reach it.
        self.clock: Callable[[], float] = runtime_clock.now if clock is None else clock
        self.cache: TokenCache = cache if cache is not None else LocalTokenCache(self.clock)
        self.margin = margin
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.circuit_seconds = circuit_seconds
        self.lock_ttl = lock_ttl
        # How long a caller waits for another worker's refresh: by default as long as that refresh
        # may hold the lock, so the wait, the lock's expiry and the error message agree.
        self.lock_wait = lock_ttl if lock_wait is None else lock_wait
        if not self.lock_wait > 0:
            raise ValueError(f"lock_wait must be a positive number of seconds, not {lock_wait!r}")

    def __repr__(self) -> str:
        return f"TokenManager(cache={type(self.cache).__name__}, margin={self.margin})"

    # -- tokens ---------------------------------------------------------------------------------

    def get_token(self, credential: Credential, fetch: TokenFetcher) -> str:
        """Return a live token for credential, fetching it once across threads/processes if needed.

        One caller takes the credential's lock and fetches; the others re-read the cached token while
        they wait (a few milliseconds apart), so they all return as soon as it is stored instead of
        taking the lock one by one. A waiter whose ``lock_wait`` runs out re-reads the cache once
        more before failing; if the holder died, its lock expires after ``lock_ttl`` and a waiter
        takes it over.
        """
        token = self._cached(credential)
        if token is not None:
            return token
        lock_name = credential.cache_key + ":lock"
        deadline = time.monotonic() + self.lock_wait
        pause = _WAIT_FIRST
        while True:
            # Every pass reads the cache first (above, or after the pause below) and then tries the
            # lock once without waiting, so the lock (a write on SQLite, a round trip on Redis) is
            # touched only while no token is stored: once one is, waiters return without it.
            with ExitStack() as held:
                if self._try_lock(held, lock_name, timeout=0):
                    return self._fetch_unless_cached(credential, fetch)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(pause, remaining))  # real time: the injected sleep is the API backoff's
            pause = min(pause * 2, _WAIT_MAX)
            token = self._cached(credential)
            if token is not None:
                return token
        token = self._cached(credential)  # the holder may have stored it just as the wait ran out
        if token is not None:
            return token
        raise self._wait_error(credential)

    def _try_lock(self, held: ExitStack, lock_name: str, *, timeout: float) -> bool:
        """Enter the named lock into held, waiting at most timeout; return False if it stayed taken."""
        try:
            held.enter_context(self.cache.lock(lock_name, self.lock_ttl, timeout=timeout))
        except TimeoutError:  # jitlite's LockTimeout is one; only the acquisition is inside this try
            return False
        return True

    def _fetch_unless_cached(self, credential: Credential, fetch: TokenFetcher) -> str:
        token = self._cached(credential)  # another worker may have refreshed meanwhile
        if token is not None:
            return token
        token, expires_in = fetch()
        self._store(credential, token, expires_in)
        return token

    def _wait_error(self, credential: Credential) -> WeComError:
        return WeComError(
            f"timed out after {self.lock_wait:g} s waiting for another worker's {credential.kind} token refresh "
            f"of {credential.owner} (it holds the lock for at most {self.lock_ttl:g} s); if this repeats, that "
            "worker's token call hangs: check the WeCom API's reachability and the setting httpTimeout"
        )

    def invalidate(self, credential: Credential, token: str | None = None) -> None:
        """Drop the cached token (only if it is still token, when given, so a fresh one survives)."""
        key = credential.cache_key
        if token is None:
            self.cache.delete(key)
            return
        with ExitStack() as held:
            if not self._try_lock(held, key + ":lock", timeout=self.lock_wait):
                raise self._wait_error(credential)
            entry = self.cache.get(key)
            if isinstance(entry, dict) and entry.get("token") == token:
                self.cache.delete(key)

    def _cached(self, credential: Credential) -> str | None:
        entry = self.cache.get(credential.cache_key)
        if not isinstance(entry, dict):
            return None
        token = entry.get("token")
        refresh_at = entry.get("refresh_at")
        if not isinstance(token, str) or not isinstance(refresh_at, (int, float)):
            return None
        return token if self.clock() < refresh_at else None

    def _store(self, credential: Credential, token: str, expires_in: float) -> None:
        # Short-lived tokens (sandbox, tests) would never be served with the full margin.
        margin = min(self.margin, expires_in / 2)
        ttl = max(expires_in - margin, 1.0)
        self.cache.set(credential.cache_key, {"token": token, "refresh_at": self.clock() + ttl}, ttl)

    # -- circuit --------------------------------------------------------------------------------

    def _circuit_key(self, owner: str) -> str:
        return f"{_PREFIX}:circuit:{owner}"

    def circuit_open_until(self, owner: str) -> float | None:
        """Return when the 45009 circuit for owner closes, or None when calls may proceed."""
        until = self.cache.get(self._circuit_key(owner))
        if isinstance(until, (int, float)) and self.clock() < until:
            return float(until)
        return None

    def open_circuit(self, owner: str) -> float:
        """Stop calls for owner for circuit_seconds; return when the circuit closes."""
        until = self.clock() + self.circuit_seconds
        self.cache.set(self._circuit_key(owner), until, self.circuit_seconds)
        return until

    def _check_circuit(self, owner: str, endpoint: str) -> None:
        until = self.circuit_open_until(owner)
        if until is not None:
            wait = until - self.clock()
            raise RateLimitedError(
                45009,
                "circuit open",
                endpoint,
                hint=(f"API frequency limit hit earlier for {owner}; calls to it are paused for another {wait:.0f} s"),
                retry_after=wait,
            )

    # -- retry policy ---------------------------------------------------------------------------

    def backoff_delay(self, attempt: int) -> float:
        """Return the jittered delay before retry number attempt (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def run(self, owner: str, request: Callable[[], T], *, endpoint: str = "") -> T:
        """Run an untokened request under the circuit and busy-backoff policy."""
        tries = 1
        while True:
            self._check_circuit(owner, endpoint)
            try:
                return request()
            except (UpstreamBusyError, RateLimitedError) as exc:
                tries = self._after_busy(owner, exc, tries)

    def call(
        self,
        credential: Credential,
        fetch: TokenFetcher,
        request: Callable[[str], T],
        *,
        endpoint: str = "",
    ) -> T:
        """Run request(token) with token refresh-and-retry-once and bounded busy retries."""
        tries = 1
        token_retried = False
        while True:  # bounded: at most max_tries busy tries plus one token retry
            self._check_circuit(credential.owner, endpoint)
            token: str | None = None
            try:
                token = self.get_token(credential, fetch)
                return request(token)
            except TokenExpiredError:
                if token_retried:
                    raise
                token_retried = True
                self.invalidate(credential, token)
            except (UpstreamBusyError, RateLimitedError) as exc:
                tries = self._after_busy(credential.owner, exc, tries)

    def _after_busy(self, owner: str, exc: WeComAPIError, tries: int) -> int:
        if exc.retries_exhausted:  # an inner call (e.g. a nested token fetch) already retried it
            raise exc
        if isinstance(exc, RateLimitedError) and exc.errcode == 45009:
            if exc.retry_after is None:  # a fresh 45009 from upstream, not our own circuit
                until = self.open_circuit(owner)
                exc.retry_after = until - self.clock()
            raise exc
        if tries >= self.max_tries:
            exc.retries_exhausted = True
            raise exc
        self.sleep(self.backoff_delay(tries))
        return tries + 1
