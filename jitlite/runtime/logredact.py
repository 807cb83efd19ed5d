"""Keep secrets out of text and log records: one redaction for error messages and every logger.

``redact(text)`` masks the values of credential-bearing keys in query strings, form bodies, JSON,
Python reprs and XML (``corpsecret=…``, ``"permanent_code": "…"``, ``<SuiteTicket>…``), passwords in
URLs, bearer tokens, Fernet keys, and every value registered with ``register_secrets`` (the app's
secret variables, the secret config fields of built elements, each WeCom/WeChat client's secrets),
wherever it shows up in the text.

``install()`` wraps the process's LogRecord factory so every record, whichever library or logger
emits it (httpx, httpcore, werkzeug, gunicorn, urllib3, SQLAlchemy, jitlite, the host's own), is
redacted when it is created — before any filter or handler sees it. A filter on a logger would not
do: it misses the records of its child loggers (``httpcore.http11``) and of loggers made later.
``RedactingFilter`` does the same for a handler that receives records made elsewhere.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "install",
    "is_secret_name",
    "redact",
    "redact_record",
    "register_secrets",
]

REDACTED = "***"

# Keys whose values are credentials, single-use codes or material to forge a request. Matched as a
# whole key, case-insensitively; "errcode", "nonce", "state" and "corpid" are deliberately not here.
_KEY = (
    r"[A-Za-z0-9_]*(?:token|secret|passw(?:or)?d|ticket|signature|credential|authorization)[A-Za-z0-9_]*"
    r"|(?:[A-Za-z0-9]+_?)?(?:aes|api|private|session|fernet|encryption|signing)_?key"
    r"|(?:pre_?auth_?|auth_?|temp_?auth_?|permanent_?|login_?|oauth_?|js_?|authori[sz]ation_?)?code"
    r"|echostr|pwd|session_?id"
)
_SECRET_KEY = re.compile(rf"(?i)(?:{_KEY})")
# Each pattern matches any key once (linear time); the key is then checked against _SECRET_KEY.
_QUERY = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z0-9_]+)(=|%3[Dd])([^&\s\"',;<>]+)")
_JSON = re.compile(r"(\"([A-Za-z0-9_]+)\"\s*:\s*\")((?:[^\"\\]|\\.)*)(\")")
_REPR = re.compile(r"('([A-Za-z0-9_]+)'\s*:\s*')((?:[^'\\]|\\.)*)(')")
_XML = re.compile(r"<([A-Za-z0-9_]+)>(?:<!\[CDATA\[.*?\]\]>|[^<]*)</\1>", re.DOTALL)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)([^@/\s]+)(@)")
_BEARER = re.compile(r"(?i)\b(Bearer\s+)([A-Za-z0-9._~+/=-]+)")
# A Fernet key (the at-rest key, JITLITE_SECRET_KEY): 32 bytes in url-safe base64 with one "=".
_FERNET_KEY = re.compile(r"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_+/=-])")

_SECRET_NAME = re.compile(rf"(?i)^(?:{_KEY})$|secret|token|passw|aes_?key|private_?key|api_?key|credential")

_MIN_SCRUB_LEN = 4  # secrets passed to one call; shorter values would scrub ordinary words
_MIN_REGISTERED_LEN = 6  # values registered for every log record
_MAX_REGISTERED = 1024  # the newest kept
_PREFIX_LEN = 10  # characters of each value in the search regex (its compile time grows with its size)


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.fullmatch(key) is not None


def is_secret_name(name: str) -> bool:
    """Tell whether a variable or key name looks like it holds a secret (secret, token, password, key…)."""
    return bool(_SECRET_NAME.search(name))


class _Registry:
    """The secret values known in this process, found in one pass over a text.

    A regex shaped as a trie over the values' first characters finds where one may start; the
    full values are then compared there. The regex is rebuilt on the first use after a change, so
    registering many values at once (an app with thousands of elements) costs one build.
    """

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._dirty = False
        self._index: tuple[re.Pattern[str] | None, dict[str, tuple[str, ...]]] = (None, {})

    def add(self, values: Iterable[str | None]) -> None:
        with self._lock:
            for value in values:
                if not isinstance(value, str) or len(value.strip()) < _MIN_REGISTERED_LEN:
                    continue
                if value in self._values:
                    self._values.move_to_end(value)
                    continue
                self._values[value] = None
                self._dirty = True
                while len(self._values) > _MAX_REGISTERED:
                    self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._dirty, self._index = False, (None, {})

    def index(self) -> tuple[re.Pattern[str] | None, dict[str, tuple[str, ...]]]:
        """Return the prefix regex and the values by prefix, longest first."""
        if self._dirty:
            with self._lock:
                if self._dirty:
                    by_prefix: dict[str, list[str]] = {}
                    for value in self._values:
                        by_prefix.setdefault(value[:_PREFIX_LEN], []).append(value)
                    pattern = _trie_pattern(by_prefix) if by_prefix else None
                    self._index = pattern, {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_prefix.items()}
                    self._dirty = False
        return self._index

    def scrub(self, text: str) -> str:
        """Return text with every registered value in it masked."""
        pattern, by_prefix = self.index()
        if pattern is None:
            return text
        pieces: list[str] = []
        done = position = 0
        while (match := pattern.search(text, position)) is not None:
            start = match.start()
            value = next((v for v in by_prefix[match.group()] if text.startswith(v, start)), None)
            if value is None:
                position = start + 1
                continue
            pieces += (text[done:start], REDACTED)
            done = position = start + len(value)
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)


def _trie_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Compile literal words into one regex shaped as a trie, so a search is one pass over the text."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = None

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        body = "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body

    return re.compile(build(root))


_registry = _Registry()


def register_secrets(*values: str | None) -> None:
    """Remember secret values (6 characters or more) so every later log record and error masks them."""
    _registry.add(values)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return text with credentials masked: keyed values, URL passwords, Fernet keys, known secrets."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SCRUB_LEN and secret in text:
            text = text.replace(secret, REDACTED)
    text = _registry.scrub(text)
    if "=" in text or "%3" in text:
        text = _QUERY.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}" if _is_secret_key(m[1]) else m[0], text)
    if '"' in text:
        text = _JSON.sub(lambda m: f"{m[1]}{REDACTED}{m[4]}" if _is_secret_key(m[2]) else m[0], text)
    if "'" in text:
        text = _REPR.sub(lambda m: f"{m[1]}{REDACTED}{m[4]}" if _is_secret_key(m[2]) else m[0], text)
    if "</" in text:
        text = _XML.sub(lambda m: f"<{m[1]}>{REDACTED}</{m[1]}>" if _is_secret_key(m[1]) else m[0], text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m[1]}{REDACTED}{m[3]}", text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    if "=" in text:
        text = _FERNET_KEY.sub(REDACTED, text)
    return text


_plain_formatter = logging.Formatter()
_MARK = "_jitlite_redacted"


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place: its message and args, exception text and stack; return it.

    A record that holds no secret is left exactly as it was (its template and args stay, for
    handlers that group by template). One that does gets its message frozen to the redacted text,
    and its traceback replaced by the redacted text of it.
    """
    if getattr(record, _MARK, None) == _fingerprint(record):
        return record  # already redacted, and nothing was put in since (makeLogRecord replaces them)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it later with the args' reprs, so mask those
        record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(redact(repr(arg)) for arg in record.args)
        message = None
    if message is not None:
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or _plain_formatter.formatException(record.exc_info)
        cleaned = redact(text)
        if cleaned != text:
            # Formatters print exc_text as is; dropping exc_info stops any handler rendering the raw one.
            record.exc_text, record.exc_info = cleaned, None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    setattr(record, _MARK, _fingerprint(record))
    return record


def _fingerprint(record: logging.LogRecord) -> tuple[int, int, int]:
    # Identities only: the mark must stay picklable (QueueHandler, SocketHandler) whatever the args are.
    return id(record.msg), id(record.args), id(record.exc_info)


_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", _MARK}


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record it sees, ``extra`` attributes included.

    The record factory runs before ``Logger.makeRecord`` adds a call's ``extra`` values, so a
    handler that ships extras (JSON logs) should carry this filter too; so should a handler fed
    records made elsewhere (``logging.makeLogRecord``, a queue or socket listener).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record and its extra string attributes; never drop it."""
        redact_record(record)
        for name, value in list(vars(record).items()):
            if isinstance(value, str) and name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, redact(value))
        return True


_install_lock = threading.Lock()


def _covers(factory: Callable[..., logging.LogRecord]) -> bool:
    """Tell whether records made by factory come out redacted (ours, or one that chains ours)."""
    probe = factory(__name__, logging.DEBUG, __file__, 0, "probe", (), None)
    return getattr(probe, _MARK, None) is not None


def install() -> None:
    """Make every LogRecord of the process redacted at creation; safe to call any number of times.

    The current factory is chained, so another library's factory keeps working; if someone later
    replaces the factory without chaining, the next call installs redaction again.
    """
    with _install_lock:
        previous = logging.getLogRecordFactory()
        if _covers(previous):
            return

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(redacting_factory)
