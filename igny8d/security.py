"""Tokens and passwords: the only module that knows the JWT algorithm and the hasher."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import bcrypt
import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]

#: A hash no password can match; stored for invited users until they get one.
UNUSABLE_PASSWORD = "!"


class TokenError(Exception):
    """A token that must be refused; the message is safe to show to the client."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    account_id: int
    type: TokenType
    jti: str
    version: int
    #: the user's random auth key: a token names exactly one user, never a later one
    key: str
    expires_at: dt.datetime


#: verified tokens kept per process (oldest out first)
_VERIFIED_CACHE = 10_000


class TokenService:
    """Issues and verifies HS256 JWTs; claims as DESIGN.md fixes them."""

    def __init__(self, secret: str, *, access_minutes: int = 15, refresh_days: int = 7) -> None:
        self._secret = secret
        self.access_ttl = dt.timedelta(minutes=access_minutes)
        self.refresh_ttl = dt.timedelta(days=refresh_days)
        self._verified: dict[str, TokenClaims] = {}

    def issue(
        self, token_type: TokenType, *, user_id: int, account_id: int, version: int, key: str
    ) -> IssuedToken:
        now = dt.datetime.now(dt.UTC)
        ttl = self.access_ttl if token_type == "access" else self.refresh_ttl
        expires = now + ttl
        jti = uuid.uuid4().hex
        payload = {
            "user_id": user_id,
            "account_id": account_id,
            "type": token_type,
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "jti": jti,
            "ver": version,
            "key": key,
        }
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM)
        return IssuedToken(token, jti, expires.replace(microsecond=0))

    def verify(self, token: str, expected: TokenType) -> TokenClaims:
        """Decode and check signature, expiry and type.

        The algorithm list is fixed, so `alg: none` and RS/HS confusion are refused. A token
        already verified is taken from a small cache (a client sends the same access token
        for 15 minutes); its expiry is checked again on every use.
        """
        cached = self._verified.get(token)
        if cached is not None and cached.type == expected:
            if cached.expires_at <= dt.datetime.now(dt.UTC):
                self._verified.pop(token, None)
                raise TokenError("Token has expired")
            return cached
        claims = self._decode(token, expected)
        if len(self._verified) >= _VERIFIED_CACHE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = claims
        return claims

    def _decode(self, token: str, expected: TokenType) -> TokenClaims:
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "jti", "type", "user_id", "account_id",
                                     "key"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("Token has expired") from None
        except jwt.PyJWTError:
            raise TokenError("Token is invalid") from None
        if payload.get("type") != expected:
            raise TokenError(f"Token is not an {expected} token" if expected == "access"
                             else f"Token is not a {expected} token")
        try:
            return TokenClaims(
                user_id=int(payload["user_id"]),
                account_id=int(payload["account_id"]),
                type=expected,
                jti=str(payload["jti"]),
                version=int(payload.get("ver", 0)),
                key=str(payload["key"]),
                expires_at=dt.datetime.fromtimestamp(int(payload["exp"]), dt.UTC),
            )
        except (TypeError, ValueError):
            raise TokenError("Token is invalid") from None


class PasswordHasher:
    """bcrypt, always on a worker thread: one check costs ~0.2 s of CPU at cost 12."""

    def __init__(self, rounds: int = 12) -> None:
        self.rounds = rounds
        self._dummy_salt = bcrypt.gensalt(rounds)

    @staticmethod
    def _prepare(password: str) -> bytes:
        # bcrypt reads at most 72 bytes; pre-hash so long passwords are not silently cut.
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        return digest.encode("ascii")

    async def hash(self, password: str) -> str:
        salt = bcrypt.gensalt(self.rounds)
        raw = await asyncio.to_thread(bcrypt.hashpw, self._prepare(password), salt)
        return "bcrypt_sha256$" + raw.decode("ascii")

    async def verify(self, password: str, encoded: str | None) -> bool:
        """Check a password; an unknown user still pays for one hash (no timing oracle)."""
        if not encoded or not encoded.startswith("bcrypt_sha256$"):
            await asyncio.to_thread(bcrypt.hashpw, self._prepare(password), self._dummy_salt)
            return False
        stored = encoded.removeprefix("bcrypt_sha256$").encode("ascii")
        try:
            return await asyncio.to_thread(bcrypt.checkpw, self._prepare(password), stored)
        except ValueError:
            return False


