"""WeCom/WeChat callback crypto (WXBizMsgCrypt), byte-compatible with the official sample and wechatpy.

signature = SHA1(sorted(token, timestamp, nonce, encrypt) joined); key = b64decode(EncodingAESKey + "=");
AES-256-CBC with IV = key[:16]; PKCS#7 padding to 32-byte blocks;
plaintext = 16 random bytes + 4-byte big-endian length + message + receive-id.

Checks run cheapest-first and anything that depends on secrets only after the signature verifies:
body size → envelope XML → signature → timestamp window → base64/block size → padding → length
→ receive-id allow-list → message XML → nonce replay.

Time is read from ``jitlite.runtime.clock`` at call time (unless a ``clock`` is passed), so frozen or
moved time (freezegun, ``clock.use_clock``) reaches the timestamp window and the replay guard.
A URL-verification GET never spends a nonce and answers only a short plain echostr, so a captured
POST's ``Encrypt`` replayed as ``echostr`` is neither decrypted back to its sender nor used up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import (  # type: ignore[import-untyped]
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import fromstring as _defused_fromstring  # type: ignore[import-untyped]

from ..runtime import clock as runtime_clock
from .cache import TokenCache
from .errors import (
    BodyTooLarge,
    MalformedCiphertext,
    MalformedXML,
    MissingEncrypt,
    PaddingError,
    ReceiveIdMismatch,
    ReplayedNonce,
    SignatureMismatch,
    StaleTimestamp,
)

__all__ = ["DecryptedMessage", "WeComCrypto", "parse_flat_xml"]

_BLOCK = 32
_PADS = tuple(bytes([n]) * n for n in range(_BLOCK + 1))
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}")
_NONCE_RE = re.compile(r"[A-Za-z0-9_.~-]{1,128}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")

_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# URL verification echoes a random number string (WeCom sends ~19 digits); anything longer, or anything
# that looks like markup, is a captured POST's Encrypt replayed as echostr and is never echoed.
_ECHOSTR_MAX_CHARS = 128

# A strict subset of XML for flat documents (<xml><Tag>text or CDATA</Tag>…</xml>) that cannot hold a
# DOCTYPE, entity, attribute, comment or line-ending normalisation; anything else goes through
# defusedxml, so both paths give identical fields. Characters XML forbids are screened first.
_XML_SPACE = " \t\n"
_XML_WS = f"[{_XML_SPACE}]*"
_NAME = "[A-Za-z_][A-Za-z0-9_.-]*"
_CDATA_TEXT = "[^\\]]*(?:\\](?!\\]>)[^\\]]*)*"  # anything but "]]>", unrolled so it never backtracks
_PLAIN_TEXT = "[^<&\\]]*"
_CHILD_RE = re.compile(f"{_XML_WS}<({_NAME})>(?:<!\\[CDATA\\[({_CDATA_TEXT})\\]\\]>|({_PLAIN_TEXT}))</\\1>")
# The callback envelope needs only its Encrypt child, so it is checked in one match: any children but
# Encrypt, exactly one Encrypt, any children but Encrypt. Each part is unambiguous (no child can be
# matched two ways), so a mismatch fails in linear time. Envelopes outside this shape (no or several
# Encrypt children, characters XML forbids) take parse_flat_xml, which gives the same Encrypt.
_OTHER_CHILD = f"{_XML_WS}<(?!Encrypt>)({_NAME})>(?:<!\\[CDATA\\[{_CDATA_TEXT}\\]\\]>|{_PLAIN_TEXT})</\\{{group}}>"
_ENVELOPE_RE = re.compile(
    f"{_XML_WS}<xml>(?:{_OTHER_CHILD.format(group=1)})*"
    f"{_XML_WS}<Encrypt>(?:<!\\[CDATA\\[({_CDATA_TEXT})\\]\\]>|({_PLAIN_TEXT}))</Encrypt>"
    f"(?:{_OTHER_CHILD.format(group=4)})*{_XML_WS}</xml>{_XML_WS}\\Z"
)
# C0 controls other than tab and newline; carriage returns are normalised by parsers, so defer them.
_FAST_PATH_FORBIDDEN = bytes(c for c in range(32) if c not in (9, 10))

_ENVELOPE = (
    "<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n"
    "<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
)


if sys.version_info >= (3, 11):

    def _strict_b64decode(text: str) -> bytes:
        """Decode canonical base64 (alphabet, padding only at the end), raising binascii.Error."""
        return binascii.a2b_base64(text, strict_mode=True)

else:

    def _strict_b64decode(text: str) -> bytes:
        """Decode canonical base64 (alphabet, padding only at the end), raising binascii.Error."""
        if _B64_RE.fullmatch(text) is None:
            raise binascii.Error("characters outside the base64 alphabet, or misplaced padding")
        return binascii.a2b_base64(text)


@dataclass(frozen=True)
class DecryptedMessage:
    """A verified, decrypted callback: the message XML, its receive-id and its flat child tags."""

    xml: str
    receive_id: str
    fields: dict[str, str]


def _fast_fields(text: str, data: bytes | None = None) -> dict[str, str] | None:
    if data is None:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: let the real parser reject them
            return None
    if len(data.translate(None, _FAST_PATH_FORBIDDEN)) != len(data):
        return None
    if not text.isascii() and ("\ufffe" in text or "\uffff" in text):
        return None
    body = text.lstrip(_XML_SPACE)
    if not body.startswith("<xml>"):
        return None
    pos = len(text) - len(body) + 5
    fields: dict[str, str] = {}
    match = _CHILD_RE.match
    child = match(text, pos)
    while child is not None:
        tag, cdata, plain = child.groups("")
        fields[tag] = cdata or plain  # one of the two is always empty
        pos = child.end()
        child = match(text, pos)
    if text[pos:].strip(_XML_SPACE) != "</xml>":
        return None
    return fields


def _envelope_encrypt(text: str, data: bytes | None) -> str | None:
    """Return the Encrypt text of a callback envelope (None when it has none)."""
    if data is not None and len(data.translate(None, _FAST_PATH_FORBIDDEN)) == len(data):
        match = _ENVELOPE_RE.match(text)
        if match is not None:
            cdata, plain = match.group(2, 3)
            return cdata if cdata is not None else plain
    return parse_flat_xml(text, "the callback body", data=data).get("Encrypt")


def _child_text(child: Element) -> str:
    text = child.text or ""
    # A child with children of its own is not flat: keep only its own non-blank text.
    return text.strip() if len(child) else text


def parse_flat_xml(text: str, what: str = "XML", *, data: bytes | None = None) -> dict[str, str]:
    """Return {tag: text} of the root's children, rejecting DOCTYPEs, entities and malformed XML.

    data, when given, must be text encoded as UTF-8 (saves encoding it again).
    """
    fields = _fast_fields(text, data)
    if fields is not None:
        return fields
    try:
        root = _defused_fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise MalformedXML(f"{what} contains a DOCTYPE, which is never accepted") from exc
    except EntitiesForbidden as exc:
        raise MalformedXML(f"{what} declares entities, which are never accepted") from exc
    except ExternalReferenceForbidden as exc:
        raise MalformedXML(f"{what} references an external resource") from exc
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedXML(f"{what} is not well-formed XML ({exc})") from exc
    return {child.tag: _child_text(child) for child in root}


class _NonceMemory:
    """Bounded, thread-safe set of recently seen nonce keys with expiry."""

    _DRAIN_EVERY = 64  # adds between drains of expired entries; each drain frees up to twice that

    def __init__(self, max_entries: int = 100_000) -> None:
        # Insertion-ordered with one TTL, so the oldest entry is always the first to expire.
        self._seen: dict[object, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self._adds = 0

    def seen(self, key: object, now: float) -> bool:
        """Return True when key is recorded and has not expired."""
        with self._lock:
            expires = self._seen.get(key)
            return expires is not None and expires > now

    def add(self, key: object, now: float, ttl: float) -> bool:
        """Record key; return False when it was already recorded and has not expired."""
        with self._lock:
            seen = self._seen
            known = seen.get(key)
            if known is not None:
                if known > now:
                    return False
                del seen[key]  # re-insert at the young end
            seen[key] = now + ttl
            self._adds += 1
            if self._adds % self._DRAIN_EVERY == 0 or len(seen) > self._max:
                self._drain(now)
            return True

    def _drain(self, now: float) -> None:
        # Bounded work per drain, yet the set drains faster than it fills; past the bound the
        # oldest entries go first even if live (the timestamp window still refuses old replays).
        seen = self._seen
        for _ in range(2 * self._DRAIN_EVERY):
            oldest = next(iter(seen), None)
            if oldest is None or (seen[oldest] > now and len(seen) <= self._max):
                return
            del seen[oldest]


class WeComCrypto:
    """Verify, decrypt and encrypt WeCom/WeChat callbacks.

    ``clock`` (seconds since the epoch) defaults to ``jitlite.runtime.clock.now``, read at each call.
    """

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_ids: str | Iterable[str] | None = None,
        *,
        timestamp_window: int = 300,
        nonce_cache: TokenCache | None = None,
        max_body_bytes: int = 64 * 1024,
        clock: Callable[[], float] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty string (the callback Token from the console)")
        if not isinstance(encoding_aes_key, str) or _KEY_RE.fullmatch(encoding_aes_key) is None:
            length = len(encoding_aes_key) if isinstance(encoding_aes_key, str) else 0
            raise ValueError(
                "EncodingAESKey must be exactly 43 characters of A-Z, a-z, 0-9, '+' and '/' "
                f"(got {length} characters); copy it again from the callback settings in the console"
            )
        if timestamp_window < 0:
            raise ValueError("timestamp_window must be >= 0 (0 disables the check)")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        key = base64.b64decode(encoding_aes_key + "=")
        self._iv = key[:16]
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(self._iv))
        # One CBC decryption context per thread, reused for every callback (see _cbc_decrypt).
        self._local = threading.local()
        self._token = token
        if receive_ids is None:
            self._receive_ids: frozenset[str] | None = None
        elif isinstance(receive_ids, str):
            self._receive_ids = frozenset((receive_ids,))
        else:
            self._receive_ids = frozenset(receive_ids)
        self.timestamp_window = timestamp_window
        self.max_body_bytes = max_body_bytes
        self._nonce_cache = nonce_cache
        self._nonce_memory = _NonceMemory()  # used only when no shared cache is given
        # Covers any timestamp the window accepts; without a window, remember nonces an hour.
        self._nonce_ttl = float(2 * timestamp_window) if timestamp_window else 3600.0
        # Namespaced per token so apps sharing one cache never see each other's nonces.
        namespace = hashlib.sha256(b"nonce:" + token.encode("utf-8")).hexdigest()[:16]
        self._nonce_prefix = f"jitlite:wecom:nonce:{namespace}"
        self._clock = clock
        self._random_bytes = random_bytes

    def __repr__(self) -> str:
        ids = None if self._receive_ids is None else sorted(self._receive_ids)
        return f"WeComCrypto(receive_ids={ids!r}, timestamp_window={self.timestamp_window})"

    @property
    def receive_ids(self) -> frozenset[str] | None:
        """Return the receive-id allow-list (None accepts any)."""
        return self._receive_ids

    def now(self) -> float:
        """Return the current time in seconds: the injected clock, else the runtime clock (read now)."""
        source = self._clock
        return source() if source is not None else runtime_clock.now()

    # -- public API -----------------------------------------------------------------------------

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """Return the msg_signature of an encrypted text."""
        return hashlib.sha1("".join(sorted((self._token, timestamp, nonce, encrypted))).encode("utf-8")).hexdigest()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Verify a URL-verification GET and return the decrypted echostr to answer with."""
        return self.open_echostr(msg_signature, timestamp, nonce, echostr)[0]

    def open_echostr(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> tuple[str, str]:
        """Verify a URL-verification GET; return (the echo to answer, its receive-id).

        The echo must be a short plain string (at most 128 characters, no markup): a captured POST's
        Encrypt replayed as echostr decrypts to XML and is refused, never echoed. A GET spends no
        nonce, so it cannot use up the nonce of a POST that is still to come.
        """
        message, receive_id, _ = self._verify_and_decrypt(echostr, msg_signature, timestamp, nonce)
        if not 0 < len(message) <= _ECHOSTR_MAX_CHARS or "<" in message or not message.isprintable():
            raise MalformedCiphertext(
                f"the echostr decrypts to {len(message)} characters that are not a plain URL-verification "
                f"string (at most {_ECHOSTR_MAX_CHARS} printable characters, no '<'); only POSTs carry messages"
            )
        return message, receive_id

    def decrypt_message(
        self, body: bytes | str, msg_signature: str, timestamp: str, nonce: str, *, remember_nonce: bool = True
    ) -> DecryptedMessage:
        """Verify and decrypt a callback POST body.

        With ``remember_nonce`` (the default) a replayed nonce raises ReplayedNonce and the nonce is
        spent here. A caller that must persist the message before the nonce counts as used (so that a
        failed store leaves WeCom's identical retry acceptable) passes False and guards against replays
        itself: by the stored message (the signature binds nonce and timestamp to the payload, so a
        replay is the same payload; the proxy service's callback records do this), or by calling
        :meth:`nonce_seen` before storing and :meth:`remember_nonce` after committing.
        """
        limit = self.max_body_bytes
        if isinstance(body, (bytes, bytearray, memoryview)):
            size = len(body)
            if size > limit:
                raise BodyTooLarge(f"the body is {size} bytes, over the {limit}-byte limit")
            data = bytes(body)
            try:
                text = str(data, "utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedXML("the body is not UTF-8") from exc
        else:
            text = body
            if len(text) > limit:  # each character is at least one byte: refuse before encoding
                raise BodyTooLarge(f"the body is at least {len(text)} bytes, over the {limit}-byte limit")
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise MalformedXML("the body contains lone surrogates, which UTF-8 cannot carry") from exc
            if len(data) > limit:
                raise BodyTooLarge(f"the body is {len(data)} bytes, over the {limit}-byte limit")
        encrypt = _envelope_encrypt(text, data)
        if not encrypt:
            raise MissingEncrypt("the callback body has no Encrypt element (or it is empty)")
        message, receive_id, message_bytes = self._verify_and_decrypt(encrypt, msg_signature, timestamp, nonce)
        fields = parse_flat_xml(message, "the decrypted message", data=message_bytes)
        if remember_nonce and not self.remember_nonce(timestamp, nonce):
            raise ReplayedNonce(f"nonce {nonce!r} with timestamp {timestamp} was already accepted")
        return DecryptedMessage(message, receive_id, fields)

    def nonce_seen(self, timestamp: str, nonce: str) -> bool:
        """Return True when this timestamp and nonce pair was already remembered and has not expired."""
        if self._nonce_cache is not None:
            return self._nonce_cache.get(f"{self._nonce_prefix}:{timestamp}:{nonce}") is not None
        return self._nonce_memory.seen((timestamp, nonce), self.now())

    def remember_nonce(self, timestamp: str, nonce: str) -> bool:
        """Spend a timestamp and nonce pair; return False when it was already spent (a replay)."""
        if self._nonce_cache is not None:
            return self._remember_in_cache(self._nonce_cache, f"{self._nonce_prefix}:{timestamp}:{nonce}")
        return self._nonce_memory.add((timestamp, nonce), self.now(), self._nonce_ttl)

    def encrypt(self, plaintext: str, receive_id: str) -> str:
        """Return the base64 ciphertext of plaintext addressed to receive_id."""
        message = plaintext.encode("utf-8")
        prefix = self._random_bytes(16)
        if len(prefix) != 16:
            raise ValueError("random_bytes(16) must return 16 bytes")
        body = b"".join((prefix, len(message).to_bytes(4, "big"), message, receive_id.encode("utf-8")))
        encryptor = self._cipher.encryptor()
        ciphertext = encryptor.update(body + _PADS[_BLOCK - len(body) % _BLOCK]) + encryptor.finalize()
        return base64.b64encode(ciphertext).decode("ascii")

    def encrypt_message(self, plaintext_xml: str, nonce: str, timestamp: str | int, receive_id: str) -> str:
        """Return the encrypted envelope XML (Encrypt, MsgSignature, TimeStamp, Nonce) for a message."""
        stamp = str(timestamp)
        if _TIMESTAMP_RE.fullmatch(stamp) is None:
            raise ValueError(f"timestamp must be Unix seconds, got {stamp!r}")
        if _NONCE_RE.fullmatch(nonce) is None:
            raise ValueError("nonce must be 1-128 characters of A-Z, a-z, 0-9, '_', '.', '~' or '-'")
        encrypted = self.encrypt(plaintext_xml, receive_id)
        return _ENVELOPE.format(
            encrypt=encrypted, signature=self.signature(stamp, nonce, encrypted), timestamp=stamp, nonce=nonce
        )

    # -- checks ---------------------------------------------------------------------------------

    def _verify_and_decrypt(
        self, encrypted: str, msg_signature: str, timestamp: str, nonce: str
    ) -> tuple[str, str, bytes]:
        """Return (message, receive_id, message as UTF-8) after every check up to the receive-id."""
        expected = self.signature(timestamp, nonce, encrypted)
        if not (
            isinstance(msg_signature, str) and msg_signature.isascii() and hmac.compare_digest(expected, msg_signature)
        ):
            raise SignatureMismatch("msg_signature does not match the token, timestamp, nonce and Encrypt")
        if self.timestamp_window:
            self._check_timestamp(timestamp)
        # Canonical base64 only: whole quanta, the alphabet, at most two '=' and only at the end
        # (a2b_base64 tolerates surplus '=' even in strict mode).
        if len(encrypted) % 4 or encrypted.find("=", 0, -2) != -1:
            raise MalformedCiphertext("the encrypted text is not valid base64 (length or padding)")
        try:
            raw = _strict_b64decode(encrypted)
        except (binascii.Error, ValueError) as exc:
            raise MalformedCiphertext("the encrypted text is not valid base64 (alphabet or padding)") from exc
        size = len(raw)
        if size == 0 or size % _BLOCK:
            raise MalformedCiphertext(f"the ciphertext is {size} bytes, not a positive multiple of {_BLOCK}")
        plain = self._cbc_decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or not plain.endswith(_PADS[pad]):
            raise PaddingError(f"the PKCS#7 padding is invalid (last byte {pad}, expected 1-{_BLOCK})")
        end = size - pad
        if end < 20:
            raise MalformedCiphertext("the decrypted text is shorter than its 20-byte header")
        length = int.from_bytes(plain[16:20], "big")
        message_end = 20 + length
        if message_end > end:
            raise MalformedCiphertext(f"the length field ({length}) exceeds the {end - 20} bytes that were decrypted")
        message_bytes = plain[20:message_end]
        try:
            message = message_bytes.decode("utf-8")
            receive_id = plain[message_end:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCiphertext("the decrypted text is not UTF-8") from exc
        allowed = self._receive_ids
        if allowed is not None and receive_id not in allowed:
            raise ReceiveIdMismatch(
                f"the message is addressed to {receive_id!r}, which is not an allowed receive-id "
                f"({', '.join(sorted(allowed))})"
            )
        return message, receive_id, message_bytes

    def _cbc_decrypt(self, raw: bytes) -> bytes:
        """Return the AES-CBC decryption (IV = key[:16]) of whole blocks."""
        local = self._local
        try:
            context = local.context
        except AttributeError:
            context = local.context = self._cipher.decryptor()
        # A CBC context chains each block to the ciphertext block before it. Feeding the IV as a
        # leading block (whose own output is dropped) makes the IV the chaining value for raw's first
        # block, so one context serves every callback: exactly AES-CBC, minus building a context each
        # time. Whole blocks in, whole blocks out: nothing stays buffered between calls.
        return context.update(self._iv + raw)[16:]

    def _check_timestamp(self, timestamp: str) -> None:
        if not (isinstance(timestamp, str) and timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise StaleTimestamp(f"timestamp {timestamp!r} is not Unix seconds")
        skew = abs(self.now() - int(timestamp))
        if skew > self.timestamp_window:
            raise StaleTimestamp(
                f"timestamp {timestamp} is {skew:.0f} s from now, outside the {self.timestamp_window} s window"
            )

    def _remember_in_cache(self, cache: TokenCache, key: str) -> bool:
        # One atomic set-if-absent: of two workers spending one nonce, exactly one stores it and
        # wins, so no lock or read is needed (on SQLite one write instead of lock, read, write, unlock).
        return cache.add(key, 1, self._nonce_ttl)
