"""All SQL about webhook endpoints and their deliveries. Tenant reads take the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import Membership, Role, User
from sitechat.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint


async def get_endpoint(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> WebhookEndpoint | None:
    statement = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.workspace_id == workspace_id
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def erase_expired_previous_secrets(session: AsyncSession, now: datetime) -> int:
    """Clear every previous secret whose overlap ended by `now`. The condition is checked
    again on each row as it is updated, so a rotation committed meanwhile is kept."""
    statement = (
        update(WebhookEndpoint)
        .where(WebhookEndpoint.previous_secret_expires_at <= now)
        .values(previous_secret=None, previous_secret_expires_at=None)
    )
    result = await session.execute(statement, execution_options={"synchronize_session": False})
    return int(getattr(result, "rowcount", 0) or 0)


async def list_endpoints(session: AsyncSession, workspace_id: uuid.UUID) -> list[WebhookEndpoint]:
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id == workspace_id)
        .order_by(WebhookEndpoint.id.desc())
    )
    return list((await session.execute(statement)).scalars().all())


async def count_endpoints(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    statement = select(func.count()).where(WebhookEndpoint.workspace_id == workspace_id)
    return int(await session.scalar(statement) or 0)


async def subscribed_endpoints(
    session: AsyncSession, workspace_id: uuid.UUID, event_type: str
) -> Sequence[tuple[uuid.UUID]]:
    """Enabled endpoints that take `event_type` (an empty list of types takes every type)."""
    statement = select(WebhookEndpoint.id).where(
        WebhookEndpoint.workspace_id == workspace_id,
        WebhookEndpoint.enabled.is_(True),
        or_(
            func.cardinality(WebhookEndpoint.event_types) == 0,
            WebhookEndpoint.event_types.contains([event_type]),
        ),
    )
    return (await session.execute(statement)).tuples().all()


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(WebhookDelivery), rows)


async def claim_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, now: datetime
) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    """The delivery if it is due, locked; a delivery another worker holds is skipped."""
    statement = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
        )
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    row = (await session.execute(statement)).tuples().first()
    return row if row is None else (row[0], row[1])


async def lock_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    statement = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def due_delivery_ids(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    statement = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars().all())


async def list_deliveries(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    before: uuid.UUID | None,
    limit: int,
) -> list[WebhookDelivery]:
    """Newest first; `limit + 1` rows so the caller knows whether another page exists."""
    statement = select(WebhookDelivery).where(
        WebhookDelivery.workspace_id == workspace_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if before is not None:
        statement = statement.where(WebhookDelivery.id < before)
    statement = statement.order_by(WebhookDelivery.id.desc()).limit(limit + 1)
    return list((await session.execute(statement)).scalars().all())


async def get_delivery(
    session: AsyncSession, workspace_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    statement = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id,
        WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.workspace_id == workspace_id,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def owner_emails(session: AsyncSession, workspace_id: uuid.UUID) -> list[str]:
    statement = (
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.workspace_id == workspace_id,
            Membership.role == Role.owner,
            User.is_active.is_(True),
        )
    )
    return list((await session.execute(statement)).scalars().all())
