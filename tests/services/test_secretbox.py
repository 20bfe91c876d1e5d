"""Secrets at rest: sealed under a key derived from the server secret, versioned, bound to
their row, and unreadable (not a crash) under another secret."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from igny8d.services.secretbox import SecretBox, Unreadable, box_for, mask

SECRET = "s" * 48
CTX = "account:1:integration:openai"


def test_round_trip_and_version_prefix():
    box = SecretBox(SECRET)
    sealed = box.seal("sk-live-1234567890abcdef", context=CTX)
    assert sealed.startswith("v1.")
    assert "sk-live" not in sealed and "1234567890" not in sealed
    assert box.open(sealed, context=CTX) == "sk-live-1234567890abcdef"


def test_each_seal_uses_a_fresh_nonce():
    box = SecretBox(SECRET)
    one, two = box.seal("same", context=CTX), box.seal("same", context=CTX)
    assert one != two
    assert box.open(one, context=CTX) == box.open(two, context=CTX) == "same"


def test_key_is_hkdf_sha256_of_the_server_secret_not_the_secret_itself():
    """An independent decryption with the documented derivation opens it; the raw secret
    (or a different info string) does not."""
    sealed = SecretBox(SECRET).seal("hello", context=CTX)
    raw = base64.urlsafe_b64decode(sealed[3:] + "=" * (-len(sealed[3:]) % 4))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"igny8d secretbox v1: integration-api-key").derive(SECRET.encode())
    assert AESGCM(key).decrypt(raw[:12], raw[12:], CTX.encode()) == b"hello"
    with pytest.raises(InvalidTag):
        AESGCM(SECRET.encode()[:32]).decrypt(raw[:12], raw[12:], CTX.encode())


def test_another_server_secret_cannot_open_it():
    sealed = SecretBox(SECRET).seal("sk-abc", context=CTX)
    with pytest.raises(Unreadable):
        SecretBox("o" * 48).open(sealed, context=CTX)


def test_a_value_moved_to_another_row_does_not_open():
    box = SecretBox(SECRET)
    sealed = box.seal("sk-abc", context=CTX)
    with pytest.raises(Unreadable):
        box.open(sealed, context="account:2:integration:openai")
    with pytest.raises(Unreadable):
        box.open(sealed, context="account:1:integration:runware")


@pytest.mark.parametrize("bad", ["", "sk-plain", "v2.abcd", "v1.", "v1.!!!!", "v1.AAAA",
                                 "v1." + "A" * 80])
def test_malformed_or_unknown_values_are_unreadable(bad):
    with pytest.raises(Unreadable):
        SecretBox(SECRET).open(bad, context=CTX)


def test_tampering_is_detected():
    box = SecretBox(SECRET)
    sealed = box.seal("sk-abc", context=CTX)
    prefix, body = sealed.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for at in (0, len(raw) // 2, len(raw) - 1):  # the nonce, the ciphertext, the tag
        flipped = bytearray(raw)
        flipped[at] ^= 0x01
        tampered = f"{prefix}." + base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
        with pytest.raises(Unreadable):
            box.open(tampered, context=CTX)


def test_a_server_secret_is_required():
    with pytest.raises(ValueError):
        SecretBox("")


def test_box_for_is_cached_per_secret():
    assert box_for(SECRET) is box_for(SECRET)
    assert box_for(SECRET) is not box_for("o" * 48)


@pytest.mark.parametrize(("key", "shown"), [
    ("", ""),
    ("short", "…"),
    ("elevenchars", "…"),
    ("sk-proj-abcdefghijklmnop1234", "sk-…1234"),
    ("twelve-chars", "twe…hars"),
])
def test_mask(key, shown):
    assert mask(key) == shown
