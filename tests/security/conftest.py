"""Fixtures of the security tests: a record-capturing root logger at DEBUG, and the demo app on the sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

PROXY_SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


class RecordCapture(logging.Handler):
    """Keep every record that reaches the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self, record: logging.LogRecord) -> list[str]:
        """Return every text a handler could print or ship for a record."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        texts = [record.getMessage(), formatter.format(record), str(record.msg), record.exc_text or "",
                 record.stack_info or ""]
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        texts.extend(repr(arg) for arg in args)
        texts.extend(str(value) for value in vars(record).values() if isinstance(value, str))
        return texts


@pytest.fixture
def captured() -> Iterator[RecordCapture]:
    """Put the root logger at DEBUG with a capturing handler; restore it afterwards."""
    root = logging.getLogger()
    handler = RecordCapture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
