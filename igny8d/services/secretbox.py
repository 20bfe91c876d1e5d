"""Secrets at rest (integration API keys): AES-256-GCM under a key derived from the server
secret, bound to where the value belongs.

- The key is HKDF-SHA256 of `settings.secret_key` with a fixed info string per purpose, so
  the server secret itself never encrypts anything and other uses of it (token signing) never
  share a key with this one.
- A sealed value is `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`: the version prefix lets the
  scheme change later (a `v2.` reader next to this one) without touching stored rows.
- `context` (e.g. `account:7:openai`) is the GCM associated data: a value copied into another
  account's row, or another integration's, does not open there.
- A value that does not open (the server secret changed, the row was tampered with or moved)
  raises `Unreadable`; callers show it as such, never as a 500.
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
_PREFIX = VERSION + "."
_NONCE_BYTES = 12
#: HKDF info: names the scheme and its purpose, so a derived key has exactly one use.
_INFO = b"igny8d secretbox v1: "
#: The most plaintext one value may hold (API keys are well under 1 KB).
MAX_PLAINTEXT = 4096


class Unreadable(Exception):
    """A sealed value that cannot be opened with this server's secret (or in this context)."""


class SecretBox:
    """Seals and opens short strings with a key derived from the server secret."""

    def __init__(self, server_secret: str, *, purpose: str = "integration-api-key") -> None:
        if not server_secret:
            raise ValueError("a server secret is required to seal secrets")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_INFO + purpose.encode()).derive(server_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, context: str) -> str:
        data = plaintext.encode()
        if len(data) > MAX_PLAINTEXT:
            raise ValueError("secret too long")
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, context.encode())
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, *, context: str) -> str:
        if not token.startswith(_PREFIX):
            raise Unreadable("unknown secret format")
        body = token[len(_PREFIX):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise Unreadable("malformed secret") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise Unreadable("malformed secret")
        try:
            data = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise Unreadable("the secret does not open with this server's key") from None
        try:
            return data.decode()
        except UnicodeDecodeError:  # pragma: no cover - only what seal() wrote opens
            raise Unreadable("malformed secret") from None


@functools.lru_cache(maxsize=8)
def box_for(server_secret: str) -> SecretBox:
    """The box of a server secret (derived once per process and secret)."""
    return SecretBox(server_secret)


def mask(secret: str) -> str:
    """What a read shows of a key: its first 3 and last 4 characters (`sk-…abcd`); a key
    shorter than 12 characters shows nothing but the ellipsis (7 of 11 would be most of it);
    no key is ""."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "…"
    return f"{secret[:3]}…{secret[-4:]}"
