"""Provider tokens at rest: encrypted, authenticated, and readable across a key rotation."""

from __future__ import annotations

import pytest

from sync.token_vault import TokenVault, VaultError

OLD = "old-secret-key-" + "o" * 32
NEW = "new-secret-key-" + "n" * 32


def test_ciphertext_hides_the_token_and_decrypts_back() -> None:
    vault = TokenVault(NEW)
    secret = {"access_token": "ya29.very-secret", "refresh_token": "1//refresh-secret"}
    sealed = vault.encrypt(secret)
    assert b"very-secret" not in sealed and b"refresh-secret" not in sealed
    assert vault.decrypt(sealed) == secret


def test_rotation_keeps_old_ciphertexts_readable_and_rewraps_them() -> None:
    sealed_with_old = TokenVault(OLD).encrypt({"access_token": "a"})
    rotated_vault = TokenVault(NEW, previous_keys=[OLD])
    assert rotated_vault.decrypt(sealed_with_old) == {"access_token": "a"}
    rewrapped = rotated_vault.rotate(sealed_with_old)
    assert TokenVault(NEW).decrypt(rewrapped) == {"access_token": "a"}
    with pytest.raises(VaultError):
        TokenVault(NEW).decrypt(sealed_with_old)  # the old key is really needed for old data


def test_tampered_ciphertext_is_refused() -> None:
    vault = TokenVault(NEW)
    sealed = bytearray(vault.encrypt({"access_token": "a"}))
    sealed[-5] ^= 1
    with pytest.raises(VaultError):
        vault.decrypt(bytes(sealed))
