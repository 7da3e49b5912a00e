"""The token pair a sign-in, sign-up, refresh or password change hands out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.core.security import TokenSigner, hash_token, new_opaque_token
from sitechat.models.accounts import RefreshToken


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenIssuer:
    """Issues an access JWT plus a refresh token stored (hashed) in a rotation family."""

    signer: TokenSigner
    refresh_ttl: timedelta

    def issue(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        now: datetime,
        family_id: uuid.UUID | None = None,
    ) -> IssuedTokens:
        family_id = family_id or uuid.uuid4()
        # The access token names its session (the family): revoking the family signs it out.
        access_token, expires_in = self.signer.issue_access_token(user_id, now, family_id)
        refresh_token = new_opaque_token()
        session.add(
            RefreshToken(
                user_id=user_id,
                family_id=family_id,
                token_hash=hash_token(refresh_token),
                created_at=now,
                expires_at=now + self.refresh_ttl,
            )
        )
        return IssuedTokens(access_token, refresh_token, expires_in)
