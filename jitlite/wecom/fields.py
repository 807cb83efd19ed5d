"""Pydantic field types for WeCom and WeChat values in a Type's ``schema.py``.

``WeComId`` (a corp id, suite id or app id), ``AgentId``, ``EncodingAESKey`` and ``CallbackToken``
check the form WeCom gives these values, so a value copied wrongly is a start-up problem that says
where to copy it from. Import them in ``schema.py`` as ``from jitlite.wecom.fields import WeComId``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, SecretStr, StringConstraints

from ..runtime.reporting import register_pattern_hint
from ..runtime.schema import invalid

__all__ = ["WECOM_ID_PATTERN", "AgentId", "CallbackToken", "EncodingAESKey", "WeComId"]

# A native pydantic pattern (fast at start-up); its hint words a mismatch for the user.
WECOM_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
register_pattern_hint(WECOM_ID_PATTERN, "must be 1 to 64 letters, digits, '_' or '-'",
                      "copy the id exactly from the WeCom admin console, without spaces")

WeComId = Annotated[str, StringConstraints(pattern=WECOM_ID_PATTERN)]
"""A corp id, suite id or similar WeCom identifier."""


def _agent_id(value: str | int) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise invalid("must be the app's numeric AgentId", "copy the AgentId from the app's page in WeCom")
    return text


AgentId = Annotated[str | int, AfterValidator(_agent_id)]
"""The numeric AgentId of a WeCom app, kept as text ("1000002")."""

_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]{43}")


def _encoding_aes_key(value: SecretStr) -> SecretStr:
    key = value.get_secret_value()
    if not _B64_ALPHABET.fullmatch(key):
        raise invalid(
            f"must be exactly 43 characters of the base64 alphabet (A-Z, a-z, 0-9, '+', '/'); "
            f"got {len(key)} characters",
            "copy the EncodingAESKey again from the callback settings in WeCom, or generate a new one there",
        )
    return value


EncodingAESKey = Annotated[SecretStr, AfterValidator(_encoding_aes_key)]
"""The 43-character key WeCom encrypts callbacks with: a secret."""

_TOKEN_RE = re.compile(r"[A-Za-z0-9]{1,32}")


def _callback_token(value: SecretStr) -> SecretStr:
    if not _TOKEN_RE.fullmatch(value.get_secret_value()):
        raise invalid("must be 1 to 32 letters or digits, as WeCom requires for a callback Token",
                      "copy the Token from the callback settings in WeCom, or generate a new one there")
    return value


CallbackToken = Annotated[SecretStr, AfterValidator(_callback_token)]
"""The Token WeCom signs callbacks with: a secret of up to 32 letters or digits."""
