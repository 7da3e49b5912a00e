"""All SQL about audit events."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.audit import AuditEvent


def add_event(session: AsyncSession, event: AuditEvent) -> None:
    session.add(event)


async def list_workspace_events(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int,
    before_id: uuid.UUID | None = None,
) -> list[AuditEvent]:
    """Newest first (ids are time-ordered); `before_id` is the last event already seen."""
    statement = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    statement = statement.order_by(AuditEvent.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())
