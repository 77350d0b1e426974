"""Encryption at rest for provider tokens, with keys derived from `CHRONIK_SECRET_KEY`.

Fernet (AES-128-CBC + HMAC-SHA256, from the `cryptography` package) authenticates what it
encrypts, so a tampered ciphertext fails loudly instead of decrypting to garbage. Rotation:
put the new key in `CHRONIK_SECRET_KEY` and the old ones in `CHRONIK_PREVIOUS_SECRET_KEYS`;
everything still decrypts, and `rotate` re-encrypts under the new key.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class VaultError(Exception):
    """A ciphertext was made with an unknown key or was tampered with."""


def _fernet_key(secret: str) -> Fernet:
    # A distinct derivation label keeps these keys unrelated to any other use of the secret.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"chronik provider tokens v1"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class TokenVault:
    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([_fernet_key(k) for k in (secret_key, *previous_keys)])

    def encrypt(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(orjson.dumps(value))

    def decrypt(self, ciphertext: bytes) -> dict[str, Any]:
        """The value; `VaultError` when no known key made it or it was altered."""
        try:
            value = orjson.loads(self._fernet.decrypt(bytes(ciphertext)))
        except InvalidToken:
            raise VaultError("token ciphertext is invalid or made with an unknown key") from None
        if not isinstance(value, dict):
            raise VaultError("token ciphertext holds no object")
        return value

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same value encrypted under the current key."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise VaultError("token ciphertext is invalid or made with an unknown key") from None
