"""The operator's reads across workspaces (never used by a request: no tenant scope here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.models.accounts import Membership, Role, User, Workspace
from sitechat.models.billing import Subscription
from sitechat.models.chatbots import Chatbot, ChatbotStatus


@dataclass(frozen=True)
class WorkspaceRow:
    id: uuid.UUID
    name: str
    is_personal: bool
    owners: list[str]
    members: int
    chatbots: int
    subscription: Subscription | None


async def list_workspaces(session: AsyncSession) -> list[WorkspaceRow]:
    members = (
        select(func.count())
        .select_from(Membership)
        .where(Membership.workspace_id == Workspace.id)
        .scalar_subquery()
    )
    chatbots = (
        select(func.count())
        .select_from(Chatbot)
        .where(Chatbot.workspace_id == Workspace.id, Chatbot.status != ChatbotStatus.archived)
        .scalar_subquery()
    )
    owners = (
        select(func.array_agg(User.email))
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == Workspace.id, Membership.role == Role.owner)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Workspace, owners, members, chatbots, Subscription)
        .outerjoin(Subscription, Subscription.workspace_id == Workspace.id)
        .order_by(Workspace.created_at, Workspace.id)
    )
    return [
        WorkspaceRow(
            id=workspace.id,
            name=workspace.name,
            is_personal=workspace.is_personal,
            owners=sorted(owner_emails or []),
            members=member_count,
            chatbots=chatbot_count,
            subscription=subscription,
        )
        for workspace, owner_emails, member_count, chatbot_count, subscription in rows.tuples()
    ]


async def workspace_exists(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    return await session.get(Workspace, workspace_id) is not None


async def find_user_id(session: AsyncSession, email: str) -> uuid.UUID | None:
    return await session.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
