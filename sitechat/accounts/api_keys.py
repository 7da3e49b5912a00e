"""A workspace's API keys: list, create (the plaintext is shown once), revoke."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import repository
from sitechat.accounts.errors import InvalidExpiry, RoleTooHigh
from sitechat.audit.service import record_audit_event
from sitechat.auth.caller import Caller
from sitechat.auth.revocation import announce_revocation
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import ensure_feature
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.security import ApiKeyHasher
from sitechat.models.accounts import ApiKey, Role

log = structlog.get_logger()


async def list_api_keys(session: AsyncSession, caller: Caller) -> list[ApiKey]:
    return await repository.list_api_keys(session, caller.workspace_id)


async def create_api_key(
    session: AsyncSession,
    plans: PlanCatalog,
    hasher: ApiKeyHasher,
    caller: Caller,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None,
    ip: str | None,
) -> tuple[ApiKey, str]:
    """A new key for the caller's workspace and its plaintext, which is never stored; on
    plans with the `api_access` feature (402 `quota-exceeded` otherwise)."""
    now = utcnow()
    await ensure_feature(session, plans, caller.workspace_id, "api_access")
    if not caller.can(role):
        raise RoleTooHigh()
    if expires_at is not None and expires_at <= now:
        raise InvalidExpiry()
    generated = hasher.generate()
    api_key = ApiKey(
        workspace_id=caller.workspace_id,
        created_by_user_id=caller.user_id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        role=role,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(api_key)
    await session.flush()
    record_audit_event(
        session,
        action="api_key.created",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"api_key_id": str(api_key.id), "name": name, "role": role.value},
        ip=ip,
    )
    log.info("api_key.created", api_key_id=str(api_key.id), workspace_id=str(caller.workspace_id))
    return api_key, generated.plaintext


async def revoke_api_key(
    session: AsyncSession, caller: Caller, key_id: uuid.UUID, *, ip: str | None
) -> None:
    """Idempotent; a key of another workspace is reported missing."""
    api_key = await repository.get_api_key(session, caller.workspace_id, key_id)
    if api_key is None:
        raise NotFound("API key")
    if api_key.revoked_at is not None:
        return
    api_key.revoked_at = utcnow()
    await announce_revocation(session)
    record_audit_event(
        session,
        action="api_key.revoked",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"api_key_id": str(api_key.id), "name": api_key.name},
        ip=ip,
    )
    log.info("api_key.revoked", api_key_id=str(api_key.id), workspace_id=str(caller.workspace_id))
