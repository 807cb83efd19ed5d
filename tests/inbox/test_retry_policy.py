"""The proxy callbacks' retry policy: which failures pass by themselves, and how long a record waits."""

from __future__ import annotations

import pytest

from jitlite.runtime.settings import KNOWN_SETTINGS
from jitlite.types.auths.loginTypes.QywxProxyType.services.QywxProxyAuthService import retry_delay
from jitlite.wecom import (
    ConfigurationError,
    NotFoundOrOutOfScope,
    RateLimitedError,
    SuiteTicketMissing,
    TransportError,
    UpstreamBusyError,
)


def between(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


def test_busy_or_unreachable_waits_double_each_attempt_with_jitter_up_to_half_an_hour() -> None:
    busy = UpstreamBusyError(-1, "system busy", "/cgi-bin/service/get_auth_info")
    assert between(retry_delay(busy, 1), 30, 37.5)
    assert between(retry_delay(busy, 2), 60, 75)
    assert between(retry_delay(TransportError("connection refused"), 3), 120, 150)
    assert between(retry_delay(busy, 20), 1800, 2250)  # capped
    assert between(retry_delay(busy, 1, base=5), 5, 6.25)  # callbackRetrySeconds


def test_a_rate_limit_waits_for_its_circuit_and_a_missing_ticket_at_least_a_minute() -> None:
    limited = RateLimitedError(45009, "api freq out of limit", "/cgi-bin/user/get")
    assert between(retry_delay(limited, 1), 60, 75)  # the 60 s circuit, not the 30 s first step
    circuit = RateLimitedError(45009, "circuit open", "/cgi-bin/user/get", retry_after=170)
    assert between(retry_delay(circuit, 1), 170, 212.5)
    assert between(retry_delay(SuiteTicketMissing("no suite_ticket received yet"), 1), 60, 75)


@pytest.mark.parametrize("error", [
    ConfigurationError(40001, "invalid credential", "/cgi-bin/service/get_suite_token"),
    NotFoundOrOutOfScope(60111, "userid not found", "/cgi-bin/user/get"),
    ValueError("a malformed payload"), KeyError("AuthCorpId")])
def test_failures_that_will_not_pass_by_themselves_are_not_retried(error: Exception) -> None:
    assert retry_delay(error, 1) is None


@pytest.mark.parametrize(("name", "value", "words"), [
    ("callbackRetryAttempts", 0, "a whole number >= 1"), ("callbackRetryAttempts", 2.5, "a whole number >= 1"),
    ("callbackRetrySeconds", 0, "a number of seconds > 0")])
def test_retry_settings_are_checked(name: str, value: object, words: str) -> None:
    assert KNOWN_SETTINGS[name].problem(value) == f"setting {name!r} must be {words}"
