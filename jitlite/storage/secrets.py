"""Secrets at rest: AES-256-GCM-SIV encryption for Secret fields, with key rotation, and the key variable.

The key is the app variable ``JITLITE_SECRET_KEY``, written as a Fernet key (32 url-safe base64
bytes: what ``jitlite keygen`` prints). Values are sealed with AES-256-GCM-SIV under a key derived from
it; values that earlier versions stored as Fernet tokens still decrypt, and ``rotate`` rewrites
them in the current format. Importing this module (``import jitlite`` does)
registers it with the runtime as a provided variable: its value is masked everywhere, an app whose
``settings.secretKeyFile`` names a file keeps a generated key there when no key is set, and a value
that is not a Fernet key fails ``App()`` with the place it came from.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..runtime.files import FileRefused, read_small_file
from ..runtime.privatefiles import private_dir
from ..runtime.provided import ProvidedVariable, register_provided_variable
from .errors import SecretKeyError

__all__ = ["SECRET_KEY_FILE_SETTING", "SECRET_KEY_VARIABLE", "SecretBox", "key_from_file", "secret_key_problem"]

SECRET_KEY_VARIABLE = "JITLITE_SECRET_KEY"
SECRET_KEY_FILE_SETTING = "secretKeyFile"

# A sealed value is this tag and the url-safe base64 of nonce + ciphertext + tag. A Fernet token
# always begins "gAAAAA" (its version byte 0x80), so the two formats cannot be mistaken.
_SEALED = "j2."
_NONCE_BYTES = 12
# Domain separation: the AES key is derived from the configured key, never the same bytes that
# Fernet (for values stored by earlier versions) splits into its own signing and encryption keys.
_DERIVATION_LABEL = b"jitlite secret box: AES-256-GCM-SIV v2"


def key_from_file(path: Path) -> str:
    """Return the Fernet key kept in path, creating the file (readable by its owner only) if missing."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = Fernet.generate_key().decode("ascii")
    private_dir(path.parent)
    # O_EXCL: if another process created it meanwhile, use theirs rather than overwrite it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def _read_key(path: Path) -> str:
    """Read a key file (a small regular file of ASCII text); raise FileRefused or FileNotFoundError."""
    try:
        return read_small_file(path, limit=64 * 1024).decode("ascii").strip()
    except UnicodeDecodeError:
        raise FileRefused("is not a key file: it holds bytes other than ASCII text",
                          "delete it to have a new key generated, or put a key from `jitlite keygen` in it") from None


def secret_key_problem(value: str) -> str | None:
    """Return why a JITLITE_SECRET_KEY value is unusable, or None when every key in it is a Fernet key.

    The value is one key or several separated by commas (the first encrypts, the others still
    decrypt), as ``SecretBox`` reads it. The message never quotes a key.
    """
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        return f"{SECRET_KEY_VARIABLE} holds no key"
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            which = f"key #{position} of {SECRET_KEY_VARIABLE}" if len(keys) > 1 else SECRET_KEY_VARIABLE
            return f"{which} is not a Fernet key (32 url-safe base64-encoded bytes)"
    return None


register_provided_variable(ProvidedVariable(
    name=SECRET_KEY_VARIABLE,
    secret=True,
    file_setting=SECRET_KEY_FILE_SETTING,
    read_file=key_from_file,
    problem=secret_key_problem,
    how="make a key with `jitlite keygen`",
    fix=f"make a key with `jitlite keygen` and set {SECRET_KEY_VARIABLE} to it (while rotating: the new key "
        "first, then the old ones, separated by commas)",
), setting_description=f"keep a generated {SECRET_KEY_VARIABLE} in this file (relative to the app folder) when "
                       "none is set")


class SecretBox:
    """Encrypt and decrypt text with one or more keys; the first key encrypts, every key decrypts.

    ``key`` is one key or several separated by commas. A value is sealed with AES-256-GCM-SIV
    (RFC 8452) under a key derived from the configured one with HKDF-SHA256, with a random 96-bit
    nonce: authenticated, fast enough for every callback's payload, and, unlike plain GCM, not
    broken by the rare nonce that repeats among billions of values under one key. Fernet tokens
    written by earlier versions still decrypt. To rotate, put the new key first and keep the old
    ones after it until every stored secret has been re-encrypted (``ModelManager.rotate_secrets``,
    which also rewrites Fernet tokens in the current format).
    """

    __slots__ = ("_fernet", "_key_count", "_sealers")

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise SecretKeyError(
                f"no secret key given; set the variable {SECRET_KEY_VARIABLE} to a Fernet key "
                "(generate one with `jitlite keygen`)"
            )
        keys = [part.strip() for part in key.split(",") if part.strip()]
        fernets = []
        for position, part in enumerate(keys, 1):
            try:
                fernets.append(Fernet(part))
            except (ValueError, TypeError):
                # `from None`: never chain an exception that was built from the key material.
                raise SecretKeyError(
                    f"key #{position} of {SECRET_KEY_VARIABLE} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes); generate one with `jitlite keygen`"
                ) from None
        try:
            self._sealers = [AESGCMSIV(_derived_key(part)) for part in keys]
        except UnsupportedAlgorithm:
            raise SecretKeyError(
                "this build of the cryptography package lacks AES-GCM-SIV (it needs OpenSSL 3.2 or later); "
                "install cryptography from PyPI's wheels, which include it"
            ) from None
        self._fernet = MultiFernet(fernets)
        self._key_count = len(fernets)

    @staticmethod
    def generate_key() -> str:
        """Return a new random Fernet key."""
        return Fernet.generate_key().decode("ascii")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox | None:
        """Return a box for ``JITLITE_SECRET_KEY`` from the environment, or None if it is unset."""
        value = (os.environ if environ is None else environ).get(SECRET_KEY_VARIABLE, "")
        return cls(value) if value.strip() else None

    @property
    def key_count(self) -> int:
        """Return how many keys the box holds (the first one encrypts)."""
        return self._key_count

    def encrypt(self, plaintext: str) -> str:
        """Return ``plaintext`` sealed under the first key (a new random nonce each time)."""
        if not isinstance(plaintext, str):
            raise TypeError(f"SecretBox encrypts text, not {type(plaintext).__name__}")
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._sealers[0].encrypt(nonce, plaintext.encode("utf-8"), None)
        return _SEALED + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext of a value sealed (or, by earlier versions, Fernet-encrypted) with any of the keys."""
        if not isinstance(token, str):
            self._undecryptable()
        if not token.startswith(_SEALED):
            try:
                return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
            except (InvalidToken, UnicodeError):
                self._undecryptable()
        try:
            raw = base64.urlsafe_b64decode(token[len(_SEALED):])
        except (binascii.Error, ValueError):
            self._undecryptable()
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for sealer in self._sealers:
            try:
                return sealer.decrypt(nonce, sealed, None).decode("utf-8")
            except (InvalidTag, ValueError):  # another key's value (or a cut one): try the next key
                continue
        self._undecryptable()

    def rotate(self, token: str) -> str:
        """Return ``token`` re-encrypted under the first key, in the current format."""
        return self.encrypt(self.decrypt(token))

    @staticmethod
    def _undecryptable() -> NoReturn:
        raise SecretKeyError(
            f"a stored secret cannot be decrypted with the keys in {SECRET_KEY_VARIABLE}: it was "
            "encrypted with another key or altered; when rotating keys, keep the old key after the new one"
        ) from None

    def __repr__(self) -> str:
        return f"<SecretBox with {self._key_count} key{'s' if self._key_count != 1 else ''}>"

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the keys into caches, queues or logs.
        raise TypeError("SecretBox cannot be pickled: it holds encryption keys")


def _derived_key(key: str) -> bytes:
    """Return the AES-256-GCM-SIV key derived from one configured (Fernet-format, already validated) key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_DERIVATION_LABEL).derive(base64.urlsafe_b64decode(key))
