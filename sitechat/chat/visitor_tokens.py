"""Visitor tokens: short-lived JWTs that let a widget visitor use one conversation, nothing else.

They are signed with the app's JWT keys but carry their own audience, so a visitor token is
never accepted as an access token (nor an access token as a visitor token).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from sitechat.config import AuthSettings
from sitechat.core.security import JWT_ALGORITHM

VISITOR_AUDIENCE = "sitechat-visitor"
VISITOR_TOKEN_TTL_SECONDS = 2 * 3600


@dataclass(frozen=True)
class VisitorClaims:
    conversation_id: uuid.UUID
    chatbot_id: uuid.UUID
    expires_at: int


def _verification_keys(settings: AuthSettings) -> dict[str, str]:
    keys = {kid: secret.get_secret_value() for kid, secret in settings.jwt_previous_keys.items()}
    keys[settings.jwt_key_id] = settings.jwt_secret.get_secret_value()
    return keys


def issue_visitor_token(
    settings: AuthSettings,
    conversation_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    now: datetime,
    ttl_seconds: int = VISITOR_TOKEN_TTL_SECONDS,
) -> tuple[str, int]:
    """A token for one conversation, and its lifetime in seconds."""
    payload = {
        "sub": f"visitor:{conversation_id}",
        "cid": str(conversation_id),
        "bot": str(chatbot_id),
        "iss": settings.jwt_issuer,
        "aud": VISITOR_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        payload,
        settings.jwt_secret.get_secret_value(),
        algorithm=JWT_ALGORITHM,
        headers={"kid": settings.jwt_key_id},
    )
    return token, ttl_seconds


def verify_visitor_token(settings: AuthSettings, token: str, now: datetime) -> VisitorClaims | None:
    """The token's claims, or None when it is not a valid, unexpired visitor token."""
    try:
        header = jwt.get_unverified_header(token)
        key = _verification_keys(settings).get(str(header.get("kid")))
        if key is None or header.get("alg") != JWT_ALGORITHM:
            return None
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=VISITOR_AUDIENCE,
            issuer=settings.jwt_issuer,
            # Expiry is checked against the injectable clock below, not the wall clock.
            options={"require": ["exp", "cid", "bot", "aud", "iss"], "verify_exp": False},
        )
        visitor = VisitorClaims(
            conversation_id=uuid.UUID(str(claims["cid"])),
            chatbot_id=uuid.UUID(str(claims["bot"])),
            expires_at=int(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if visitor.expires_at <= int(now.timestamp()):
        return None
    return visitor
