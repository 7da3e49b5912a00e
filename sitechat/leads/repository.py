"""All SQL about leads; reads are scoped to the caller's workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.base import new_id
from sitechat.models.leads import Lead


async def save_lead(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    conversation_id: uuid.UUID,
    name: str | None,
    email: str | None,
    now: datetime,
    max_submissions: int,
) -> Lead | None:
    """Insert the conversation's lead, or update it while it has been sent fewer than
    `max_submissions` times; None when that cap is reached (nothing changes)."""
    statement = insert(Lead).values(
        id=new_id(),
        workspace_id=workspace_id,
        chatbot_id=chatbot_id,
        conversation_id=conversation_id,
        name=name,
        email=email,
        submissions=1,
        created_at=now,
        updated_at=now,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[Lead.conversation_id],
        set_={
            "name": statement.excluded.name,
            "email": statement.excluded.email,
            "submissions": Lead.submissions + 1,
            "updated_at": now,
        },
        where=Lead.submissions < max_submissions,
    ).returning(Lead)
    return (await session.execute(upsert)).scalar_one_or_none()


async def list_leads(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    before: uuid.UUID | None,
    limit: int,
) -> Sequence[Lead]:
    """Newest first; `limit + 1` rows so the caller knows whether another page exists."""
    statement = select(Lead).where(Lead.workspace_id == workspace_id, Lead.chatbot_id == chatbot_id)
    if before is not None:
        statement = statement.where(Lead.id < before)
    statement = statement.order_by(Lead.id.desc()).limit(limit + 1)
    return (await session.execute(statement)).scalars().all()
