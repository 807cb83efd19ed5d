"""The errcode table, error classes, hints and secret redaction."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest

from jitlite.wecom import (
    ERROR_TABLE,
    ConfigurationError,
    CorpClient,
    LocalTokenCache,
    LoginRestartRequired,
    NotFoundOrOutOfScope,
    RateLimitedError,
    SuiteTicketMissing,
    TokenExpiredError,
    TokenManager,
    TransportError,
    UpstreamBusyError,
    WeComAPIError,
    WeComError,
    error_for,
    redact,
)

EXPECTED_CLASSES = {
    TokenExpiredError: [40014, 42001, 42009, 40082, 40001],
    LoginRestartRequired: [40029, 40078, 40163],
    RateLimitedError: [45009, 45033],
    ConfigurationError: [40013, 60020, 48002, 301002, 50001, 40056],
    NotFoundOrOutOfScope: [60011, 60111, 60003, 46004],
    UpstreamBusyError: [-1],
}


@pytest.mark.parametrize(("errcode", "cls"), [(code, cls) for cls, codes in EXPECTED_CLASSES.items() for code in codes])
def test_errcodes_map_to_what_the_caller_must_do(errcode: int, cls: type[WeComAPIError]) -> None:
    error = error_for(errcode, "upstream text", "cgi-bin/user/get")
    assert type(error) is cls
    assert isinstance(error, WeComAPIError)
    assert isinstance(error, WeComError)
    assert error.errcode == errcode
    assert error.endpoint == "cgi-bin/user/get"
    assert ERROR_TABLE[errcode][0] is cls
    assert str(error).startswith(f"{errcode}: {ERROR_TABLE[errcode][1]}")


@pytest.mark.parametrize(
    "endpoint", ["cgi-bin/gettoken", "/cgi-bin/service/get_suite_token", "cgi-bin/service/get_provider_token"]
)
def test_40001_on_a_token_endpoint_is_a_bad_secret(endpoint: str) -> None:
    error = error_for(40001, "invalid credential", endpoint)
    assert type(error) is ConfigurationError
    assert "secret is wrong" in str(error)


def test_unknown_errcodes_stay_generic() -> None:
    error = error_for(99999, "something new", "cgi-bin/x")
    assert type(error) is WeComAPIError
    assert "99999" in str(error)
    assert "devtool/query" in str(error)


def test_60020_message() -> None:
    assert str(error_for(60020, "not allow to access from your ip", "cgi-bin/gettoken")).startswith(
        "60020: this server's IP is not in the app's trusted IP list — add it in the WeCom admin console "
        "under the app's 企业可信IP"
    )


def test_configuration_hints_say_what_to_fix() -> None:
    for code, (cls, hint) in ERROR_TABLE.items():
        if cls is ConfigurationError:
            assert any(word in hint for word in ("check", "add", "set", "use", "copy", "grant", "wait", "re-read")), (
                code,
                hint,
            )


def test_repr_and_pickling() -> None:
    error = RateLimitedError(45009, "freq", "cgi-bin/user/get", retry_after=12.0)
    assert repr(error) == "RateLimitedError(errcode=45009, errmsg='freq', endpoint='cgi-bin/user/get')"
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is RateLimitedError
    assert (clone.errcode, clone.errmsg, clone.endpoint, str(clone)) == (
        45009,
        "freq",
        "cgi-bin/user/get",
        str(error),
    )


def test_suite_ticket_missing_is_a_wecom_error() -> None:
    assert isinstance(SuiteTicketMissing("ww1"), WeComError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=abc-DEF_123 failed",
            "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=*** failed",
        ),
        ("?access_token=tok123&id=1", "?access_token=***&id=1"),
        ("suite_access_token=S1 provider_access_token=P1", "suite_access_token=*** provider_access_token=***"),
        ('{"suite_secret": "xyz", "suite_ticket": "tkt"}', '{"suite_secret": "***", "suite_ticket": "***"}'),
        ("permanent_code%3Dabc", "permanent_code%3D***"),
        ("auth_code=a1&code=c1&pre_auth_code=p1", "auth_code=***&code=***&pre_auth_code=***"),
        ("invalid code, hint: [123], from ip: 1.2.3.4", "invalid code, hint: [123], from ip: 1.2.3.4"),
    ],
)
def test_redact_masks_credentials_in_query_strings_and_json(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_scrubs_known_secret_values() -> None:
    assert redact("echo of MySecretValue here", ["MySecretValue"]) == "echo of *** here"
    assert redact("short ab stays", ["ab"]) == "short ab stays"


def test_secrets_never_reach_messages_or_reprs(ids: SimpleNamespace, assert_no_secrets: Callable[..., None]) -> None:
    """Upstream may echo the secret; httpx errors carry the full URL: neither leaks."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("gettoken"):
            return httpx.Response(
                200,
                json={"errcode": 40013, "errmsg": f"invalid corpid for secret {ids.CORP_SECRET} url {request.url}"},
            )
        raise AssertionError("no other call expected")

    manager = TokenManager(LocalTokenCache())
    with CorpClient(ids.CORP_ID, ids.CORP_SECRET, transport=httpx.MockTransport(handler), tokens=manager) as corp:
        with pytest.raises(ConfigurationError) as info:
            corp.department.simplelist()
        assert_no_secrets(str(info.value), repr(info.value), info.value.errmsg, repr(corp), repr(manager))
        assert "***" in info.value.errmsg

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    with CorpClient(ids.CORP_ID, ids.CORP_SECRET, transport=httpx.MockTransport(broken), tokens=manager) as corp:
        with pytest.raises(TransportError) as transport_info:
            corp.access_token()
        assert_no_secrets(str(transport_info.value), repr(transport_info.value))
