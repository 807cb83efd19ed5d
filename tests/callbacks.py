"""Callbacks encrypted and signed as WeCom sends them to the demo app's suite, for tests that call notify."""

from __future__ import annotations

import secrets

from jitlite.runtime import clock
from jitlite.wecom import WeComCrypto

SUITE_ID = "tjsandboxsuite0001"  # the demo app's suite, token and key (its app.json defaults)
TOKEN = "sandboxtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

pusher = WeComCrypto(TOKEN, AES_KEY)


def suite_ticket(ticket: str, *, when: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """Return notify's arguments for a suite_ticket push encrypted and signed as WeCom sends it."""
    timestamp = str(int(clock.now()) if when is None else when)
    nonce = nonce or secrets.token_hex(8)
    xml = (f"<xml><SuiteId><![CDATA[{SUITE_ID}]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>"
           f"<TimeStamp>{timestamp}</TimeStamp><SuiteTicket><![CDATA[{ticket}]]></SuiteTicket></xml>")
    envelope = pusher.encrypt_message(xml, nonce, timestamp, SUITE_ID)
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return {"nonce": nonce, "timestamp": timestamp, "body": envelope,
            "msg_signature": pusher.signature(timestamp, nonce, encrypt)}
