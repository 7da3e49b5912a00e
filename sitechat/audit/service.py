"""Recording and reading audit events.

`record_audit_event` adds the row to the request's session, so it is committed with the change
it describes (and disappears with it on rollback). Nothing here flushes: callers that need the
row visible in the same transaction flush themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit import repository
from sitechat.core.clock import utcnow
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.models.audit import AuditEvent


def record_audit_event(
    session: AsyncSession,
    *,
    action: str,
    workspace_id: uuid.UUID | None,
    actor_user_id: uuid.UUID | None = None,
    actor_api_key_id: uuid.UUID | None = None,
    details: Mapping[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Add one audit event (`<domain>.<past_tense>`, e.g. `api_key.created`) to the session.

    `details` must hold identifiers and names only, never secrets or message bodies.
    """
    event = AuditEvent(
        workspace_id=workspace_id,
        actor_user_id=actor_user_id,
        actor_api_key_id=actor_api_key_id,
        action=action,
        details=dict(details or {}),
        ip_address=ip,
        created_at=utcnow(),
    )
    repository.add_event(session, event)
    return event


@dataclass(frozen=True)
class AuditEventPage:
    items: list[AuditEvent]
    next_cursor: str | None


async def list_workspace_events(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, cursor: str | None
) -> AuditEventPage:
    # One extra row tells whether another page exists without a count query.
    rows = await repository.list_workspace_events(
        session, workspace_id, limit=limit + 1, before_id=decode_cursor(cursor)
    )
    return AuditEventPage(
        items=rows[:limit], next_cursor=next_cursor_of([row.id for row in rows], limit)
    )
