"""All SQL about workspaces, memberships and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sitechat.models.accounts import Invitation, Membership, Role, User, Workspace


async def get_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace | None:
    return await session.get(Workspace, workspace_id)


async def list_user_workspaces(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[Workspace, Role]]:
    rows = await session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        # Joining order: the personal workspace (joined at sign-up) comes first.
        .order_by(Membership.created_at, Membership.id)
    )
    return [(workspace, role) for workspace, role in rows.tuples()]


async def get_membership(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
) -> Membership | None:
    statement = select(Membership).where(
        Membership.workspace_id == workspace_id, Membership.user_id == user_id
    )
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_members(
    session: AsyncSession, workspace_id: uuid.UUID
) -> list[tuple[uuid.UUID, str, str, Role, datetime]]:
    """(user id, email, full name, role, joined at), oldest member first."""
    rows = await session.execute(
        select(User.id, User.email, User.full_name, Membership.role, Membership.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(Membership.created_at, User.id)
    )
    return list(rows.tuples().all())


async def lock_owners(session: AsyncSession, workspace_id: uuid.UUID) -> list[uuid.UUID]:
    """The owners' user ids, row-locked so two demotions cannot leave a workspace ownerless."""
    return list(
        (
            await session.scalars(
                select(Membership.user_id)
                .where(Membership.workspace_id == workspace_id, Membership.role == Role.owner)
                .with_for_update()
            )
        ).all()
    )


async def delete_membership(session: AsyncSession, membership: Membership) -> None:
    await session.delete(membership)


async def delete_workspaces(session: AsyncSession, workspace_ids: list[uuid.UUID]) -> None:
    """Everything the workspaces own goes with them (foreign keys cascade)."""
    if workspace_ids:
        await session.execute(delete(Workspace).where(Workspace.id.in_(workspace_ids)))


async def shared_workspaces_solely_owned(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Non-personal workspaces where the user is the only owner: (with others, alone).

    The first block deleting the user's account; the second are deleted with it.
    """
    mine = aliased(Membership)
    others = aliased(Membership)
    owner_count = (
        select(func.count())
        .where(others.workspace_id == mine.workspace_id, others.role == Role.owner)
        .scalar_subquery()
    )
    member_count = (
        select(func.count()).where(others.workspace_id == mine.workspace_id).scalar_subquery()
    )
    rows = await session.execute(
        select(mine.workspace_id, member_count)
        .join(Workspace, Workspace.id == mine.workspace_id)
        .where(
            mine.user_id == user_id,
            mine.role == Role.owner,
            Workspace.is_personal.is_(False),
            owner_count == 1,
        )
    )
    with_others: list[uuid.UUID] = []
    alone: list[uuid.UUID] = []
    for workspace_id, members in rows.tuples():
        (with_others if members > 1 else alone).append(workspace_id)
    return with_others, alone


async def find_invitation_for_update(session: AsyncSession, token_hash: str) -> Invitation | None:
    return await session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash).with_for_update()
    )


async def get_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation | None:
    return await session.get(Invitation, invitation_id)
