"""Callback crypto: official WXBizMsgCrypt vectors, wechatpy interop both ways, and every failed check."""

from __future__ import annotations

import base64
import functools
import random
import re
import string
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict

import defusedxml.ElementTree as DefusedET  # type: ignore[import-untyped]
import pytest
import wechatpy.crypto.base as wechatpy_base
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from freezegun import freeze_time
from wechatpy.crypto import PrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto

from jitlite.cache import SqliteCache
from jitlite.runtime import clock
from jitlite.wecom import (
    BodyTooLarge,
    CallbackError,
    LocalTokenCache,
    MalformedCiphertext,
    MalformedXML,
    MissingEncrypt,
    PaddingError,
    ReceiveIdMismatch,
    ReplayedNonce,
    SignatureMismatch,
    StaleTimestamp,
    WeComCrypto,
    parse_flat_xml,
)
from jitlite.wecom.crypto import _ENVELOPE_RE, _envelope_encrypt, _fast_fields

# The WXBizMsgCrypt sample published with WeCom's official SDKs (C#, Java, Python, Go samples).
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_CORP_ID = "wx5823bf96d3bd56c7"
SAMPLE_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
SAMPLE_POST = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZ"
    "fJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3"
    "LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn"
    "28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
)
SAMPLE_POST_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]>"
    "</FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content>"
    "<![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)

TOKEN = "sCallbackTok3n"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SUITE_ID = "ww0123456789suite"
NOW = 1_700_000_000


def make(receive_ids: Any = SUITE_ID, **options: Any) -> WeComCrypto:
    options.setdefault("clock", lambda: float(NOW))
    return WeComCrypto(TOKEN, KEY, receive_ids, **options)


def envelope(encrypt: str, to: str = SUITE_ID) -> str:
    return f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


def msg_signature_of(envelope_xml: str) -> str:
    match = re.search(r"<MsgSignature><!\[CDATA\[([0-9a-f]{40})\]\]></MsgSignature>", envelope_xml)
    assert match is not None
    return match.group(1)


def raw_encrypt(plaintext: bytes, key: str = KEY) -> str:
    """AES-CBC-encrypt already padded bytes with the callback key, bypassing our padding."""
    aes_key = base64.b64decode(key + "=")
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(aes_key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


class Signed(TypedDict):
    """The query arguments of a signed callback: ``decrypt_message(body, **signed(...))``."""

    msg_signature: str
    timestamp: str
    nonce: str


def signed(crypto: WeComCrypto, encrypt: str, nonce: str = "n1", timestamp: str = str(NOW)) -> Signed:
    return {"msg_signature": crypto.signature(timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}


# -- the official sample -----------------------------------------------------------------------


def test_official_sample_verify_url() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP_ID, clock=lambda: 1409659589.0)
    echo = crypto.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", SAMPLE_ECHOSTR)
    assert echo == "1616140317555161061"


def test_official_sample_decrypt_message() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP_ID, clock=lambda: 1409659813.0)
    message = crypto.decrypt_message(
        SAMPLE_POST.encode(), "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
    )
    assert message.xml == SAMPLE_POST_PLAINTEXT
    assert message.receive_id == SAMPLE_CORP_ID
    assert message.fields == {
        "ToUserName": "wx5823bf96d3bd56c7",
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


def test_a_recorded_callback_verifies_under_frozen_time() -> None:
    """With no clock argument the crypto reads the runtime clock at call time, so freezegun reaches it."""
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP_ID)
    args = (SAMPLE_POST.encode(), "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149")
    with pytest.raises(StaleTimestamp):
        crypto.decrypt_message(*args)  # recorded in 2014: stale today
    with freeze_time(datetime.fromtimestamp(1409659813 + 60, timezone.utc)):
        assert crypto.decrypt_message(*args).xml == SAMPLE_POST_PLAINTEXT


def test_a_recorded_callback_verifies_under_an_injected_runtime_clock() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP_ID)  # built before the clock is set
    with clock.use_clock(lambda: 1409659589.0 - 120):
        echo = crypto.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", SAMPLE_ECHOSTR)
    assert echo == "1616140317555161061"
    with pytest.raises(StaleTimestamp):
        crypto.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", SAMPLE_ECHOSTR)


def test_official_sample_encrypt_vector_with_fixed_random() -> None:
    """WXBizMsgCrypt's published test vector: random 'aaaabbbbccccdddd', Chinese text."""
    crypto = WeComCrypto("pamtest", KEY, "wxb11529c136998cb6", random_bytes=lambda n: b"aaaabbbbccccdddd")
    assert crypto.encrypt("我是中文abcd123", "wxb11529c136998cb6") == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )


def test_signature_matches_the_sample() -> None:
    crypto = WeComCrypto(SAMPLE_TOKEN, SAMPLE_KEY)
    assert crypto.signature("1409659589", "263014780", SAMPLE_ECHOSTR) == "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"


# -- wechatpy interop --------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits + " _-.,:;!?/()[]{}'\"=+*#@%$^|~`"
_CHINESE = "企业微信通讯录成员部门张三李四王五研发市场销售总部上海北京深圳你好世界测试数据"


def random_text(rng: random.Random, size: int) -> str:
    pool = _ALPHABET + _CHINESE + "😀\t\n"
    text = "".join(rng.choice(pool) for _ in range(size))
    return text.replace("]]>", "]] >")


def random_message(rng: random.Random) -> tuple[str, dict[str, str]]:
    fields: dict[str, str] = {}
    parts = []
    for index in range(rng.randint(1, 8)):
        tag = rng.choice(["SuiteId", "InfoType", "TimeStamp", "SuiteTicket", "Content", "Name", "AuthCode"])
        tag = f"{tag}{index}"
        if rng.random() < 0.3:
            value = str(rng.randint(0, 10**12))
            parts.append(f"<{tag}>{value}</{tag}>")
        else:
            value = random_text(rng, rng.randint(0, 300))
            parts.append(f"<{tag}><![CDATA[{value}]]></{tag}>")
        fields[tag] = value
    separator = rng.choice(["", "\n", " "])
    return "<xml>" + separator.join(parts) + "</xml>", fields


def test_wechatpy_encrypts_we_decrypt_many_random_messages() -> None:
    rng = random.Random(20240601)
    ours = make(timestamp_window=0)
    theirs = WeChatCrypto(TOKEN, KEY, SUITE_ID)
    for i in range(250):
        xml, fields = random_message(rng)
        nonce = f"nonce{i}"
        timestamp = str(NOW + i)
        wire = theirs.encrypt_message(xml, nonce, timestamp)
        body = wire.encode() if i % 2 else wire
        message = ours.decrypt_message(body, msg_signature_of(wire), timestamp, nonce)
        assert message.xml == xml
        assert message.fields == fields
        assert message.receive_id == SUITE_ID


def test_we_encrypt_wechatpy_decrypts_many_random_messages() -> None:
    rng = random.Random(8)
    ours = make(timestamp_window=0)
    theirs = WeChatCrypto(TOKEN, KEY, SUITE_ID)
    for i in range(250):
        xml, _ = random_message(rng)
        nonce = f"n{i}"
        timestamp = NOW + i
        wire = ours.encrypt_message(xml, nonce, timestamp, SUITE_ID)
        assert theirs.decrypt_message(wire, msg_signature_of(wire), str(timestamp), nonce) == xml
        assert ours.decrypt_message(wire, msg_signature_of(wire), str(timestamp), nonce).xml == xml


def _fixed_bytes(prefix: str, count: int) -> bytes:
    return prefix.encode()


def test_ciphertext_is_byte_for_byte_wechatpys_given_the_same_random_prefix() -> None:
    rng = random.Random(3)
    for _ in range(50):
        prefix = "".join(rng.choice(string.ascii_letters) for _ in range(16))
        text = random_text(rng, rng.randint(0, 200))
        prp = PrpCrypto(base64.b64decode(KEY + "="))
        prp.get_random_string = lambda prefix=prefix: prefix
        ours = WeComCrypto(TOKEN, KEY, random_bytes=functools.partial(_fixed_bytes, prefix))
        assert ours.encrypt(text, SUITE_ID) == prp.encrypt(text, SUITE_ID).decode()


def test_envelope_matches_wechatpys_layout() -> None:
    ours = WeComCrypto(TOKEN, KEY, random_bytes=lambda n: b"0123456789abcdef")
    theirs = WeChatCrypto(TOKEN, KEY, SUITE_ID)
    theirs_prp_random = "0123456789abcdef"
    original = wechatpy_base.BasePrpCrypto.get_random_string
    wechatpy_base.BasePrpCrypto.get_random_string = lambda self: theirs_prp_random
    try:
        expected = theirs.encrypt_message("<xml><A>1</A></xml>", "nonce9", "1700000000")
    finally:
        wechatpy_base.BasePrpCrypto.get_random_string = original
    assert ours.encrypt_message("<xml><A>1</A></xml>", "nonce9", 1700000000, SUITE_ID) == expected


def test_verify_url_round_trip_with_wechatpy() -> None:
    theirs = WeChatCrypto(TOKEN, KEY, SUITE_ID)
    ours = make()
    echostr = PrpCrypto(base64.b64decode(KEY + "=")).encrypt("8123456789012345678", SUITE_ID).decode()
    signature = ours.signature(str(NOW), "v1", echostr)
    assert theirs.check_signature(signature, str(NOW), "v1", echostr) == "8123456789012345678"
    assert ours.verify_url(signature, str(NOW), "v1", echostr) == "8123456789012345678"


# -- receive-id allow-list ---------------------------------------------------------------------


def test_receive_id_allow_list_accepts_any_listed_id() -> None:
    crypto = make(["ww-provider", SUITE_ID, "ww-auth-corp"])
    for receive_id in ("ww-provider", SUITE_ID, "ww-auth-corp"):
        encrypt = crypto.encrypt("<xml><A>1</A></xml>", receive_id)
        message = crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, nonce=receive_id))
        assert message.receive_id == receive_id


def test_no_allow_list_accepts_any_receive_id() -> None:
    crypto = make(None)
    encrypt = crypto.encrypt("<xml><A>1</A></xml>", "anybody")
    assert crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt)).receive_id == "anybody"
    assert crypto.receive_ids is None


def test_wrong_receive_id() -> None:
    crypto = make(SUITE_ID)
    encrypt = crypto.encrypt("<xml><A>1</A></xml>", "ww-somebody-else")
    with pytest.raises(ReceiveIdMismatch, match="ww-somebody-else"):
        crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt))


# -- every failed check has its own error ------------------------------------------------------


def _valid(crypto: WeComCrypto, plaintext: str = "<xml><InfoType><![CDATA[suite_ticket]]></InfoType></xml>") -> str:
    return crypto.encrypt(plaintext, SUITE_ID)


def test_wrong_signature() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    with pytest.raises(SignatureMismatch):
        crypto.decrypt_message(envelope(encrypt), "0" * 40, str(NOW), "n1")
    with pytest.raises(SignatureMismatch):
        crypto.decrypt_message(envelope(encrypt), "签名", str(NOW), "n1")
    with pytest.raises(SignatureMismatch):
        crypto.verify_url("0" * 40, str(NOW), "n1", encrypt)


def test_tampered_ciphertext_fails_the_signature() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    params = signed(crypto, encrypt)
    tampered = ("B" if encrypt[0] == "A" else "A") + encrypt[1:]
    with pytest.raises(SignatureMismatch):
        crypto.decrypt_message(envelope(tampered), **params)


def test_tampered_and_resigned_ciphertext_fails_the_length_check() -> None:
    crypto = make()
    raw = bytearray(base64.b64decode(_valid(crypto)))
    raw[0] ^= 0x80  # CBC: flips the top bit of the length field in the next block
    tampered = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(MalformedCiphertext, match="length field"):
        crypto.decrypt_message(envelope(tampered), **signed(crypto, tampered))


@pytest.mark.parametrize("last", [0, 33, 255])
def test_padding_byte_out_of_range(last: int) -> None:
    crypto = make()
    body = b"r" * 16 + (3).to_bytes(4, "big") + b"abc" + SUITE_ID.encode()
    padded = body + bytes(32 - len(body) % 32 - 1) + bytes([last])
    encrypt = raw_encrypt(padded)
    with pytest.raises(PaddingError, match=f"last byte {last}"):
        crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt))


def test_padding_bytes_must_all_match() -> None:
    crypto = make()
    body = b"r" * 16 + (3).to_bytes(4, "big") + b"abc" + SUITE_ID.encode()
    pad = 32 - len(body) % 32
    padded = body + bytes([pad]) * pad
    padded = padded[:-2] + b"\x01" + bytes([pad])  # one wrong padding byte
    encrypt = raw_encrypt(padded)
    with pytest.raises(PaddingError):
        crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt))


@pytest.mark.parametrize("cut", [1, 2, 4, 44])
def test_truncated_base64(cut: int) -> None:
    crypto = make()
    truncated = _valid(crypto)[:-cut]
    with pytest.raises(MalformedCiphertext):
        crypto.decrypt_message(envelope(truncated), **signed(crypto, truncated))


@pytest.mark.parametrize(
    "bad", ["not*base64*at*all", "QUJD\nREVG", "QUJDREVG====", "QUJDREVG=", "QUJD=REVG", "全角字符ABCD"]
)
def test_invalid_base64(bad: str) -> None:
    crypto = make(timestamp_window=0)
    with pytest.raises(MalformedCiphertext, match="base64"):
        crypto.verify_url(crypto.signature(str(NOW), "n", bad), str(NOW), "n", bad)


def test_ciphertext_not_whole_blocks() -> None:
    crypto = make()
    sixteen = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(MalformedCiphertext, match="multiple of 32"):
        crypto.verify_url(crypto.signature(str(NOW), "n", sixteen), str(NOW), "n", sixteen)


def test_plaintext_shorter_than_header() -> None:
    crypto = make()
    encrypt = raw_encrypt(b"r" * 16 + bytes([16]) * 16)
    with pytest.raises(MalformedCiphertext, match="header"):
        crypto.verify_url(echostr=encrypt, **signed(crypto, encrypt))


def test_decrypted_text_must_be_utf8() -> None:
    crypto = make()
    body = b"r" * 16 + (2).to_bytes(4, "big") + b"\xff\xfe" + SUITE_ID.encode()
    pad = 32 - len(body) % 32
    encrypt = raw_encrypt(body + bytes([pad]) * pad)
    with pytest.raises(MalformedCiphertext, match="UTF-8"):
        crypto.verify_url(echostr=encrypt, **signed(crypto, encrypt))


def test_stale_and_future_timestamps() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    for timestamp in (str(NOW - 301), str(NOW + 301)):
        with pytest.raises(StaleTimestamp, match="300 s window"):
            crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, timestamp=timestamp))
    for timestamp in (str(NOW - 300), str(NOW + 299)):
        crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, nonce=timestamp, timestamp=timestamp))


def test_timestamp_must_be_unix_seconds() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    for timestamp in ("", "12a", "１２３", "-5", "1" * 13):
        with pytest.raises(StaleTimestamp, match="Unix seconds"):
            crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, timestamp=timestamp))


def test_timestamp_window_is_configurable_and_zero_disables_it() -> None:
    encrypt = _valid(make())
    lenient = make(timestamp_window=3600)
    lenient.decrypt_message(envelope(encrypt), **signed(lenient, encrypt, timestamp=str(NOW - 3000)))
    disabled = make(timestamp_window=0)
    disabled.decrypt_message(envelope(encrypt), **signed(disabled, encrypt, timestamp="1"))


def test_replayed_nonce() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    params = signed(crypto, encrypt, nonce="once")
    crypto.decrypt_message(envelope(encrypt), **params)
    with pytest.raises(ReplayedNonce, match="once"):
        crypto.decrypt_message(envelope(encrypt), **params)
    crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, nonce="twice"))  # new nonce is fine


def test_a_nonce_can_be_spent_after_the_message_is_stored() -> None:
    """Decrypt without spending the nonce, store, then spend it: a failed store leaves a retry acceptable."""
    crypto = make()
    encrypt = _valid(crypto)
    params = signed(crypto, encrypt, nonce="later")
    for _ in range(2):  # e.g. the first store failed: the identical retry still decrypts
        crypto.decrypt_message(envelope(encrypt), **params, remember_nonce=False)
        assert not crypto.nonce_seen(params["timestamp"], "later")
    assert crypto.remember_nonce(params["timestamp"], "later") is True
    assert crypto.nonce_seen(params["timestamp"], "later")
    assert crypto.remember_nonce(params["timestamp"], "later") is False
    with pytest.raises(ReplayedNonce):
        crypto.decrypt_message(envelope(encrypt), **params)


def test_url_verification_never_spends_a_nonce() -> None:
    crypto = make()
    echostr = crypto.encrypt("1616140317555161061", SUITE_ID)
    params = signed(crypto, echostr, nonce="shared-nonce")
    assert crypto.verify_url(echostr=echostr, **params) == "1616140317555161061"
    assert crypto.verify_url(echostr=echostr, **params) == "1616140317555161061"  # WeCom may verify again
    assert not crypto.nonce_seen(params["timestamp"], "shared-nonce")
    encrypt = _valid(crypto)  # a POST that happens to carry the same timestamp and nonce
    crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, nonce="shared-nonce"))


def test_a_posts_encrypt_replayed_as_echostr_is_not_decrypted_back() -> None:
    crypto = make()
    encrypt = crypto.encrypt("<xml><InfoType>create_auth</InfoType><AuthCode>secret-code</AuthCode></xml>", SUITE_ID)
    params = signed(crypto, encrypt, nonce="captured")
    with pytest.raises(MalformedCiphertext, match="not a plain URL-verification string") as caught:
        crypto.verify_url(echostr=encrypt, **params)
    assert "secret-code" not in str(caught.value)
    message = crypto.decrypt_message(envelope(encrypt), **params)  # the genuine POST is still accepted
    assert message.fields["AuthCode"] == "secret-code"


@pytest.mark.parametrize(
    ("echo", "accepted"),
    [("7" * 128, True), ("a-b_c.d e", True), ("7" * 129, False), ("", False), ("ab<c", False), ("line\nbreak", False),
     ("tab\there", False), ("nul\x00", False)],
)
def test_echostr_must_be_short_plain_text(echo: str, accepted: bool) -> None:
    crypto = make()
    echostr = crypto.encrypt(echo, SUITE_ID)
    params = signed(crypto, echostr)
    if accepted:
        assert crypto.verify_url(echostr=echostr, **params) == echo
    else:
        with pytest.raises(MalformedCiphertext):
            crypto.verify_url(echostr=echostr, **params)


def test_open_echostr_gives_the_receive_id_to_check() -> None:
    crypto = make(None)
    echostr = crypto.encrypt("12345", "ww-someone")
    assert crypto.open_echostr(echostr=echostr, **signed(crypto, echostr)) == ("12345", "ww-someone")
    with pytest.raises(ReceiveIdMismatch):
        make(SUITE_ID).open_echostr(echostr=echostr, **signed(crypto, echostr))


def test_replay_is_seen_across_workers_sharing_a_cache() -> None:
    shared = LocalTokenCache(lambda: float(NOW))
    first, second = make(nonce_cache=shared), make(nonce_cache=shared)
    encrypt = _valid(first)
    params = signed(first, encrypt, nonce="shared")
    assert not second.nonce_seen(params["timestamp"], "shared")
    first.decrypt_message(envelope(encrypt), **params)
    assert second.nonce_seen(params["timestamp"], "shared")
    with pytest.raises(ReplayedNonce):
        second.decrypt_message(envelope(encrypt), **params)
    assert second.remember_nonce(params["timestamp"], "shared") is False
    assert all(not key.endswith("shared") or key.startswith("jitlite:wecom:nonce:") for key in shared._data)


def test_replay_is_refused_across_workers_sharing_a_sqlite_cache(tmp_path: Path) -> None:
    """Workers with their own crypto and their own SqliteCache on one file: one delivery is accepted."""
    path = tmp_path / "cache.db"
    workers = 6
    caches = [SqliteCache(path, "app", clock=lambda: float(NOW)) for _ in range(workers)]
    cryptos = [make(nonce_cache=cache) for cache in caches]
    encrypt = _valid(cryptos[0])
    params = signed(cryptos[0], encrypt, nonce="raced")
    start = threading.Barrier(workers)
    outcomes: list[str] = []
    guard = threading.Lock()

    def deliver(crypto: WeComCrypto) -> None:
        start.wait(timeout=10)
        try:
            crypto.decrypt_message(envelope(encrypt), **params)
            outcome = "accepted"
        except ReplayedNonce:
            outcome = "replay"
        with guard:
            outcomes.append(outcome)

    threads = [threading.Thread(target=deliver, args=(crypto,)) for crypto in cryptos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert sorted(outcomes) == ["accepted"] + ["replay"] * (workers - 1)
        # A later replay through yet another worker is refused too; a fresh nonce is still fine.
        late = make(nonce_cache=SqliteCache(path, "app", clock=lambda: float(NOW)))
        with pytest.raises(ReplayedNonce):
            late.decrypt_message(envelope(encrypt), **params)
        late.decrypt_message(envelope(encrypt), **signed(late, encrypt, nonce="fresh"))
    finally:
        for cache in caches:
            cache.close()


def test_spending_a_nonce_on_sqlite_is_one_write_statement(tmp_path: Path) -> None:
    """No lock, no read, no explicit transaction: the nonce is spent by one atomic insert."""
    cache = SqliteCache(tmp_path / "cache.db", "app", clock=lambda: float(NOW))
    crypto = make(nonce_cache=cache)
    statements: list[str] = []
    cache._conn().set_trace_callback(statements.append)
    try:
        assert crypto.remember_nonce(str(NOW), "once") is True
        assert crypto.remember_nonce(str(NOW), "once") is False
    finally:
        cache._conn().set_trace_callback(None)
        cache.close()
    assert len(statements) == 2 and all(s.lstrip().upper().startswith("INSERT") for s in statements)
    assert "jitlite_cache_locks" not in " ".join(statements)


def test_nonce_is_only_consumed_by_a_verified_message() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    with pytest.raises(SignatureMismatch):
        crypto.decrypt_message(envelope(encrypt), "f" * 40, str(NOW), "late")
    foreign = crypto.encrypt("<xml/>", "ww-other")
    with pytest.raises(ReceiveIdMismatch):
        crypto.decrypt_message(envelope(foreign), **signed(crypto, foreign, nonce="late"))
    crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, nonce="late"))


def test_remembered_nonces_expire() -> None:
    now = [float(NOW)]
    crypto = WeComCrypto(TOKEN, KEY, SUITE_ID, timestamp_window=0, clock=lambda: now[0])
    encrypt = _valid(crypto)
    params = signed(crypto, encrypt, nonce="a")
    crypto.decrypt_message(envelope(encrypt), **params)
    now[0] += 3599
    with pytest.raises(ReplayedNonce):
        crypto.decrypt_message(envelope(encrypt), **params)
    now[0] += 2  # without a window nonces are remembered for an hour
    crypto.decrypt_message(envelope(encrypt), **params)


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<xml><Encrypt>&b;</Encrypt></xml>",
        '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><Encrypt>x</Encrypt></xml>',
        "<!DOCTYPE xml><xml><Encrypt>QUJD</Encrypt></xml>",
        "<xml><Encrypt>&undefined;</Encrypt></xml>",
        "<xml><Encrypt>unclosed</xml>",
        "not xml at all",
    ],
)
def test_hostile_or_broken_xml_body(body: str) -> None:
    with pytest.raises(MalformedXML):
        make().decrypt_message(body, "0" * 40, str(NOW), "n")


def test_doctype_inside_the_decrypted_message_is_rejected_too() -> None:
    crypto = make()
    encrypt = crypto.encrypt('<!DOCTYPE x [<!ENTITY e "boom">]><xml><A>&e;</A></xml>', SUITE_ID)
    with pytest.raises(MalformedXML, match="DOCTYPE"):
        crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt))


def test_body_over_the_limit() -> None:
    crypto = make(max_body_bytes=1024)
    encrypt = _valid(crypto)
    padded = envelope(encrypt) + " " * 1024
    with pytest.raises(BodyTooLarge, match="1024-byte limit"):
        crypto.decrypt_message(padded.encode(), **signed(crypto, encrypt))
    with pytest.raises(BodyTooLarge):
        crypto.decrypt_message(padded, **signed(crypto, encrypt))
    chinese = "<xml>" + "中" * 400 + "</xml>"  # 400 characters, 1200 bytes
    with pytest.raises(BodyTooLarge):
        crypto.decrypt_message(chinese, **signed(crypto, encrypt))


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName><![CDATA[x]]></ToUserName></xml>",
        "<xml><Encrypt></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
    ],
)
def test_missing_encrypt(body: str) -> None:
    with pytest.raises(MissingEncrypt):
        make().decrypt_message(body, "0" * 40, str(NOW), "n")


def test_non_utf8_body() -> None:
    with pytest.raises(MalformedXML, match="UTF-8"):
        make().decrypt_message(b"<xml>\xff</xml>", "0" * 40, str(NOW), "n")


def test_failures_are_callback_errors_naming_the_check_and_never_the_secrets() -> None:
    crypto = make()
    encrypt = _valid(crypto)
    failures: list[CallbackError] = []
    attempts = [
        lambda: crypto.decrypt_message(envelope(encrypt), "0" * 40, str(NOW), "n"),
        lambda: crypto.decrypt_message(envelope(encrypt[:-4]), **signed(crypto, encrypt[:-4])),
        lambda: crypto.decrypt_message("<xml/>", "0" * 40, str(NOW), "n"),
        lambda: crypto.decrypt_message(envelope(encrypt), **signed(crypto, encrypt, timestamp="1")),
    ]
    for attempt in attempts:
        with pytest.raises(CallbackError) as info:
            attempt()
        failures.append(info.value)
    assert [f.check for f in failures] == ["signature", "ciphertext", "encrypt", "timestamp"]
    for failure in failures:
        assert str(failure).startswith(f"{failure.check} check failed: ")
        assert TOKEN not in str(failure) and KEY not in str(failure)
    assert TOKEN not in repr(crypto) and KEY not in repr(crypto)


# -- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [KEY[:-1], KEY + "A", KEY[:-1] + "-", KEY[:-1] + "_", KEY[:-1] + "=", " " + KEY[1:], ""],
)
def test_encoding_aes_key_must_be_43_base64_characters(key: str) -> None:
    with pytest.raises(ValueError, match="43 characters") as info:
        WeComCrypto(TOKEN, key)
    if key:
        assert key not in str(info.value)


def test_other_constructor_checks() -> None:
    with pytest.raises(ValueError, match="token"):
        WeComCrypto("", KEY)
    with pytest.raises(ValueError, match="timestamp_window"):
        WeComCrypto(TOKEN, KEY, timestamp_window=-1)
    with pytest.raises(ValueError, match="max_body_bytes"):
        WeComCrypto(TOKEN, KEY, max_body_bytes=0)


def test_encrypt_message_validates_nonce_and_timestamp() -> None:
    crypto = make()
    with pytest.raises(ValueError, match="nonce"):
        crypto.encrypt_message("<xml/>", "bad]]>nonce", NOW, SUITE_ID)
    with pytest.raises(ValueError, match="timestamp"):
        crypto.encrypt_message("<xml/>", "n", "soon", SUITE_ID)


# -- the flat XML parser -----------------------------------------------------------------------


def _slow(text: str) -> dict[str, str]:
    return {child.tag: (child.text or "") for child in DefusedET.fromstring(text, forbid_dtd=True)}


def test_fast_path_and_defusedxml_agree_on_random_documents() -> None:
    rng = random.Random(11)
    fast_hits = 0
    for _ in range(400):
        xml, fields = random_message(rng)
        if rng.random() < 0.2:
            xml = xml.replace("<xml>", "<xml>\r\n", 1)  # carriage returns force the real parser
        fast = _fast_fields(xml)
        assert parse_flat_xml(xml) == _slow(xml) == fields
        if fast is not None:
            fast_hits += 1
            assert fast == fields
    assert fast_hits > 250  # the fast path is really exercised


def random_envelope(rng: random.Random) -> tuple[str, str | None]:
    """Return an envelope with 0-2 Encrypt children among others, and the Encrypt a parser must give."""
    xml, _ = random_message(rng)
    parts = [m.group(0) for m in re.finditer(r"<(\w+)>(?:<!\[CDATA\[.*?\]\]>|[^<]*)</\1>", xml, re.S)]
    values: dict[int, str] = {}
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        value = rng.choice([base64.b64encode(rng.randbytes(rng.choice([32, 64]))).decode(), "", "]]", "a]b"])
        plain = rng.random() < 0.3 and "]" not in value
        child = f"<Encrypt>{value}</Encrypt>" if plain else f"<Encrypt><![CDATA[{value}]]></Encrypt>"
        parts.insert(rng.randint(0, len(parts)), child)
        values[id(child)] = value
    # As in any flat parse, the last Encrypt child wins.
    encrypts = [values[id(p)] for p in parts if id(p) in values]
    expected = encrypts[-1] if encrypts else None
    separator = rng.choice(["", "\n", " ", "\t"])
    return rng.choice(["", "\n"]) + "<xml>" + separator.join(parts) + "</xml>" + rng.choice(["", "\n"]), expected


def test_envelope_fast_path_and_the_flat_parser_agree_on_encrypt() -> None:
    rng = random.Random(29)
    fast_hits = 0
    for _ in range(600):
        text, expected = random_envelope(rng)
        assert _envelope_encrypt(text, text.encode()) == parse_flat_xml(text).get("Encrypt") == expected
        fast_hits += _ENVELOPE_RE.match(text) is not None
        crlf = text.replace("<xml>", "<xml>\r\n", 1)  # outside the fast subset: the same answer
        assert _envelope_encrypt(crlf, crlf.encode()) == expected
    assert fast_hits > 250  # the one-match path is really exercised


@pytest.mark.parametrize(
    "body",
    [
        "<xml>" + "<A>x</A>" * 8000 + "junk",
        "<xml>" + "<Encrypt>a</Encrypt>" * 3000 + "</xm",
        "<xml><Encrypt><![CDATA[" + "]" * 60000,
        "<xml><A><![CDATA[" + "]]" * 30000 + "]]></A><Encrypt>x</Encrypt></xml>x",
        "<xml>" + "\n<A>b</A>   " * 5000 + "<B>",
        "<xml>" + "<A><![CDATA[]]]]]]]></A>" * 2500 + "<Encrypt>e</Encrypt><",
    ],
)
def test_hostile_envelopes_near_the_size_limit_are_refused_in_linear_time(body: str) -> None:
    crypto = make()
    started = time.monotonic()
    with pytest.raises(CallbackError):
        crypto.decrypt_message(body, "0" * 40, str(NOW), "n")
    assert time.monotonic() - started < 1.0  # backtracking gone quadratic would take minutes


@pytest.mark.parametrize(
    "text",
    [
        "<xml><A>a&amp;b</A></xml>",
        "<xml><A> <![CDATA[x]]> </A></xml>",
        '<xml><A attr="1">v</A></xml>',
        "<xml><A><![CDATA[a]]]]><![CDATA[>b]]></A></xml>",
        "<xml><!-- note --><A>v</A></xml>",
        "<xml><A>line\r\nbreak</A></xml>",
        "<xml><A><![CDATA[cr\r\nlf]]></A></xml>",
        "\ufeff<xml><A>bom</A></xml>",
        "<xml><A>v</A><B><C>nested</C></B></xml>",
        "<root><A>v</A></root>",
    ],
)
def test_documents_outside_the_fast_subset_go_through_defusedxml(text: str) -> None:
    assert _fast_fields(text) is None
    expected = {
        child.tag: (child.text or "").strip() if len(child) else (child.text or "")
        for child in DefusedET.fromstring(text)
    }
    assert parse_flat_xml(text) == expected


@pytest.mark.parametrize("bad", ["<xml><A>\x01</A></xml>", "<xml><A>\ufffe</A></xml>", "<xml><A>\ud800</A></xml>"])
def test_characters_xml_forbids_are_rejected(bad: str) -> None:
    with pytest.raises(MalformedXML):
        parse_flat_xml(bad)


def test_one_instance_decrypts_concurrently_from_many_threads() -> None:
    crypto = make(timestamp_window=0)
    theirs = WeChatCrypto(TOKEN, KEY, SUITE_ID)
    rng = random.Random(5)
    jobs = []
    for i in range(400):
        xml, _ = random_message(rng)
        wire = theirs.encrypt_message(xml, f"t{i}", str(NOW))
        jobs.append((wire, msg_signature_of(wire), f"t{i}", xml))
    failures: list[BaseException] = []

    def worker(part: list[tuple[str, str, str, str]]) -> None:
        try:
            for wire, signature, nonce, xml in part:
                assert crypto.decrypt_message(wire, signature, str(NOW), nonce).xml == xml
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(jobs[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
