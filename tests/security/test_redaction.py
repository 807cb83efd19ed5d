"""The redaction of text and log records: formats, loggers, exceptions, and the record factory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import jitlite
from jitlite.runtime import logredact
from jitlite.runtime.logredact import REDACTED, RedactingFilter, redact, register_secrets
from jitlite.wecom.errors import redact as wecom_redact

from .conftest import RecordCapture

FERNET_KEY = "EUsaenyDceog1F827-UDQFhvCe5hQXHX4hyXgUPSxJU="


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /cgi-bin/gettoken?corpid=ww1&corpsecret=abc-DEF_123 HTTP/1.1",
         "GET /cgi-bin/gettoken?corpid=ww1&corpsecret=*** HTTP/1.1"),
        ("?suite_access_token=S1&provider_access_token=P1&access_token=A1&debug=1",
         "?suite_access_token=***&provider_access_token=***&access_token=***&debug=1"),
        ("/callback?msg_signature=ab12&timestamp=1&nonce=n1&echostr=ZW5j",
         "/callback?msg_signature=***&timestamp=1&nonce=n1&echostr=***"),
        ("/qr?code=c1&state=s1&appid=ww1", "/qr?code=***&state=s1&appid=ww1"),
        ('{"permanent_code": "p\\"c1", "corpid": "ww1", "refresh_token": "r1", "errcode": 0}',
         '{"permanent_code": "***", "corpid": "ww1", "refresh_token": "***", "errcode": 0}'),
        ("{'suite_ticket': 'tk1', 'SuiteId': 'tj1'}", "{'suite_ticket': '***', 'SuiteId': 'tj1'}"),
        ("<xml><SuiteTicket><![CDATA[tk1]]></SuiteTicket><AuthCode>ac1</AuthCode><SuiteId>tj1</SuiteId></xml>",
         "<xml><SuiteTicket>***</SuiteTicket><AuthCode>***</AuthCode><SuiteId>tj1</SuiteId></xml>"),
        ("loginCode=lc1 authCode=ac1 EncodingAESKey=k1", "loginCode=*** authCode=*** EncodingAESKey=***"),
        ("postgresql://jit:hunter2@db.local/app", "postgresql://jit:***@db.local/app"),
        ("Authorization: Bearer eyJ.abc-1", "Authorization: Bearer ***"),
        (f"key is {FERNET_KEY} here", "key is *** here"),
        ("errcode=40029 errmsg=bad code, state=abc nonce=1", "errcode=40029 errmsg=bad code, state=abc nonce=1"),
    ],
)
def test_redact_formats(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert wecom_redact(text) == expected  # the transport's errors use the same implementation


def test_registered_secrets_are_masked_in_free_text() -> None:
    register_secrets("free-text-secret-91", "short", None)
    assert redact("upstream echoed free-text-secret-91 back") == f"upstream echoed {REDACTED} back"
    assert redact("a short word stays") == "a short word stays"  # under 6 characters: not registered
    long_secret = "L" * 500
    register_secrets(long_secret)
    assert redact(f"[{long_secret}]") == f"[{REDACTED}]"


@pytest.fixture
def log_factory() -> Iterator[None]:
    """Restore the process's LogRecord factory after a test that replaces it."""
    saved = logging.getLogRecordFactory()
    try:
        yield
    finally:
        logging.setLogRecordFactory(saved)


def test_records_of_any_logger_are_redacted_at_creation(captured: RecordCapture) -> None:
    import jitlite.wecom.client  # noqa: F401  importing the transport installs redaction

    register_secrets("host-logged-secret-5c")
    logging.getLogger("httpcore.http11").debug("send %s", "GET /cgi-bin/user/get?access_token=tok-9&userid=u1")
    logging.getLogger("gunicorn.access").info('"GET /x?code=%s HTTP/1.1" 200', "oauth-code-1")
    logging.getLogger("my_host.module").warning("configured with %s", "host-logged-secret-5c")
    logging.getLogger("jitlite.web").info("plain %s line", "nothing-secret", extra={"detail": "corpsecret=c1"})
    first, second, third, fourth = captured.records[-4:]
    assert first.getMessage() == "send GET /cgi-bin/user/get?access_token=***&userid=u1" and first.args == ()
    assert second.getMessage() == '"GET /x?code=*** HTTP/1.1" 200'
    assert third.getMessage() == f"configured with {REDACTED}"
    # A record without secrets keeps its template and args (handlers may group by them).
    assert (fourth.msg, fourth.args) == ("plain %s line", ("nothing-secret",))
    # Logger.makeRecord adds extras after the factory: a handler shipping them carries RedactingFilter.
    assert RedactingFilter().filter(fourth) and getattr(fourth, "detail", None) == "corpsecret=***"


def test_exception_text_is_redacted_and_raw_exception_dropped(captured: RecordCapture) -> None:
    try:
        raise RuntimeError("GET /cgi-bin/gettoken?corpsecret=perm-code-42 failed")
    except RuntimeError:
        logging.getLogger("httpx").exception("request failed")
    record = captured.records[-1]
    assert record.exc_info is None and record.exc_text is not None
    assert "corpsecret=***" in record.exc_text and "perm-code-42" not in record.exc_text
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted and "perm-code-42" not in formatted
    # An exception that holds no secret is left for handlers to render as usual.
    try:
        raise ValueError("plain")
    except ValueError:
        logging.getLogger("httpx").exception("plain failure")
    assert captured.records[-1].exc_info is not None


def test_bad_format_args_are_masked_too() -> None:
    logredact.install()
    record = logging.getLogRecordFactory()("jitlite.x", 20, "f", 1, "two %s %s", ("access_token=t-1",), None)
    assert record.args == ("'access_token=***'",)  # logging's error report prints these reprs


def test_install_is_idempotent_chains_and_comes_back(log_factory: None) -> None:
    logredact.install()
    installed = logging.getLogRecordFactory()
    logredact.install()
    assert logging.getLogRecordFactory() is installed  # no second wrapper

    seen: list[str] = []

    def host_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = logging.LogRecord(*args, **kwargs)
        seen.append(record.name)
        return record

    logging.setLogRecordFactory(host_factory)  # replaces ours without chaining it
    assert "secret=s-1" in logging.getLogger("x").makeRecord("x", 20, "f", 1, "secret=s-1", (), None).getMessage()
    logredact.install()  # as building an App does
    record = logging.getLogger("x").makeRecord("x", 20, "f", 1, "secret=%s", ("s-1",), None)
    assert record.getMessage() == "secret=***" and "x" in seen  # the host's factory still runs


def test_building_an_app_reinstalls_redaction(log_factory: None, demo_app: jitlite.App) -> None:
    logging.setLogRecordFactory(logging.LogRecord)
    jitlite.App(demo_app.root, environ={})
    record = logging.getLogger("x").makeRecord("x", 20, "f", 1, "%s", ("echostr=e-1",), None)
    assert record.getMessage() == "echostr=***"


def test_filter_redacts_records_made_elsewhere() -> None:
    record = logging.makeLogRecord({"name": "remote", "msg": "GET /?suite_ticket=%s", "args": ("t-77",)})
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "GET /?suite_ticket=***"
