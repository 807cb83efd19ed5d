"""Secrets at rest: Fernet encryption for Secret fields, with key rotation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..runtime.variables import SECRET_KEY_VARIABLE
from .errors import SecretKeyError

__all__ = ["SECRET_KEY_VARIABLE", "SecretBox"]



class SecretBox:
    """Encrypt and decrypt text with one or more Fernet keys; the first key encrypts.

    ``key`` is one key or several separated by commas. To rotate, put the new key first and keep the
    old ones after it until every stored secret has been re-encrypted (``ModelManager.rotate_secrets``).
    """

    __slots__ = ("_fernet", "_key_count")

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
        """Return the Fernet token of ``plaintext`` under the first key."""
        if not isinstance(plaintext, str):
            raise TypeError(f"SecretBox encrypts text, not {type(plaintext).__name__}")
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the plaintext of a token made with any of the keys."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError):
            self._undecryptable()

    def rotate(self, token: str) -> str:
        """Return ``token`` re-encrypted under the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, AttributeError):
            self._undecryptable()

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
