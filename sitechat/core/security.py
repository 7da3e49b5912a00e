"""Credentials: password hashes, access JWTs with rotating keys, API keys, opaque tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.requests import HTTPConnection

from sitechat.config import AuthSettings

JWT_ALGORITHM = "HS256"
VERIFIED_TOKENS_KEPT = 10_000
API_KEY_PREFIX = "sk_"
API_KEY_ID_LENGTH = 12
API_KEY_SECRET_BYTES = 32

_password_hash = PasswordHash((Argon2Hasher(),))
# Verified when the email is unknown, so a login costs the same whether or not it exists.
_DUMMY_HASH = _password_hash.hash("dummy-password-for-timing")


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def bearer_token(connection: HTTPConnection) -> str | None:
    """The credential of an `Authorization: Bearer <token>` header (any case of `Bearer`), or
    None. The one parser of that header, for requests and WebSockets alike."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _password_hash.verify(password, _DUMMY_HASH)
        return False
    return _password_hash.verify(password, password_hash)


def hash_token(token: str) -> str:
    """Opaque tokens (refresh, reset, invitation) are stored as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def derived_token(secret: str, purpose: str, object_id: uuid.UUID) -> str:
    """An opaque token the server can make again from `object_id` alone (HMAC-SHA256 under a
    server secret): a job can mail it later without the plaintext being stored anywhere.
    Stored, like every opaque token, as its `hash_token`."""
    message = f"{purpose}:{object_id}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    expires_at: int
    session_id: uuid.UUID
    """`sid`: the refresh-token family the token was issued with. Signing out (or a password
    change) revokes the family, and with it every access token of that session."""


class TokenSigner:
    """Signs with the current key; verifies with the current and the retired keys (by `kid`)."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._current_kid = settings.jwt_key_id
        self._keys = {
            kid: secret.get_secret_value() for kid, secret in settings.jwt_previous_keys.items()
        }
        self._keys[self._current_kid] = settings.jwt_secret.get_secret_value()
        # A token's signature and claims do not change, so each is verified once per process
        # (the rate limiter and the caller resolution both need it on every request).
        self._verified: dict[str, AccessClaims] = {}

    def issue_access_token(
        self, user_id: uuid.UUID, now: datetime, session_id: uuid.UUID
    ) -> tuple[str, int]:
        ttl = self._settings.access_token_ttl_seconds
        payload = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=ttl)).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            payload,
            self._keys[self._current_kid],
            algorithm=JWT_ALGORITHM,
            headers={"kid": self._current_kid},
        )
        return token, ttl

    def verify_access_token(self, token: str, now: datetime) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify_signature_and_claims(token)
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.clear()
            self._verified[token] = claims
        # Expiry is checked against the injectable clock, not the wall clock.
        if claims.expires_at <= int(now.timestamp()):
            raise InvalidToken("expired")
        return claims

    def _verify_signature_and_claims(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid")))
            if key is None or header.get("alg") != JWT_ALGORITHM:
                raise InvalidToken("unknown key or algorithm")
            claims = jwt.decode(
                token,
                key,
                algorithms=[JWT_ALGORITHM],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={
                    "require": ["exp", "sub", "sid", "iat", "aud", "iss"],
                    "verify_exp": False,
                },
            )
            expires_at = int(claims["exp"])
            user_id = uuid.UUID(str(claims["sub"]))
            session_id = uuid.UUID(str(claims["sid"]))
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken(str(error)) from error
        return AccessClaims(user_id=user_id, expires_at=expires_at, session_id=session_id)


@dataclass(frozen=True)
class NewApiKey:
    prefix: str
    secret: str
    key_hash: str

    @property
    def plaintext(self) -> str:
        return f"{API_KEY_PREFIX}{self.prefix}_{self.secret}"


class ApiKeyHasher:
    """API keys look like `sk_<prefix>_<secret>`; the prefix finds the row, the HMAC proves it."""

    def __init__(self, pepper: str) -> None:
        self._pepper = pepper.encode()

    def key_hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def generate(self) -> NewApiKey:
        prefix = secrets.token_hex(API_KEY_ID_LENGTH // 2)
        secret = secrets.token_urlsafe(API_KEY_SECRET_BYTES)
        return NewApiKey(prefix=prefix, secret=secret, key_hash=self.key_hash(secret))

    def matches(self, secret: str, key_hash: str) -> bool:
        return hmac.compare_digest(self.key_hash(secret), key_hash)


def split_api_key(token: str) -> tuple[str, str] | None:
    """`sk_<prefix>_<secret>` -> (prefix, secret), or None when it is not shaped like a key."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    prefix, separator, secret = token[len(API_KEY_PREFIX) :].partition("_")
    if not separator or len(prefix) != API_KEY_ID_LENGTH or not secret:
        return None
    return prefix, secret
