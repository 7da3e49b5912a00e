"""Business rules of workspaces, memberships, invitations and the audit log view.

The caller (`Caller`) is already resolved for the workspace in the path: a person who is not a
member never gets here (404). Role rules live here, next to the rules they protect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import AuditEventPage, list_workspace_events, record_audit_event
from sitechat.auth import repository as credentials
from sitechat.auth.caller import Caller
from sitechat.auth.revocation import announce_revocation
from sitechat.billing.plans import PlanCatalog
from sitechat.billing.usage import ensure_seat
from sitechat.core.clock import utcnow
from sitechat.core.errors import Forbidden, NotFound
from sitechat.core.mail import MailMessage
from sitechat.core.security import derived_token, hash_token
from sitechat.models.accounts import Invitation, Membership, Role, Workspace
from sitechat.models.base import new_id
from sitechat.worker.buffer import JobBuffer
from sitechat.workspaces import repository
from sitechat.workspaces.errors import AlreadyMember, InvalidInvitation, LastOwner

log = structlog.get_logger()


@dataclass(frozen=True)
class WorkspaceMembership:
    workspace: Workspace
    role: Role


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True)
class InvitationPolicy:
    ttl: timedelta
    public_base_url: str
    token_secret: str = field(repr=False)
    """Server secret the invitation tokens are derived with (see `invitation_token`)."""


def require_role(caller: Caller, role: Role) -> None:
    if not caller.can(role):
        raise Forbidden(f"This action needs the {role.value} role in the workspace.")


async def _workspace(session: AsyncSession, workspace_id: uuid.UUID) -> Workspace:
    workspace = await repository.get_workspace(session, workspace_id)
    if workspace is None:
        raise NotFound("Workspace")
    return workspace


async def list_workspaces(session: AsyncSession, caller: Caller) -> list[WorkspaceMembership]:
    """A person's memberships; an API key sees only its own workspace."""
    if caller.user_id is None:
        workspace = await _workspace(session, caller.workspace_id)
        return [WorkspaceMembership(workspace, caller.role)]
    rows = await repository.list_user_workspaces(session, caller.user_id)
    return [WorkspaceMembership(workspace, role) for workspace, role in rows]


async def get_workspace(session: AsyncSession, caller: Caller) -> WorkspaceMembership:
    return WorkspaceMembership(await _workspace(session, caller.workspace_id), caller.role)


async def update_workspace(
    session: AsyncSession, caller: Caller, *, name: str | None, ip: str | None
) -> WorkspaceMembership:
    require_role(caller, Role.admin)
    workspace = await _workspace(session, caller.workspace_id)
    if name is not None and name != workspace.name:
        workspace.name = name
        workspace.updated_at = utcnow()
        record_audit_event(
            session,
            action="workspace.renamed",
            workspace_id=workspace.id,
            actor_user_id=caller.user_id,
            actor_api_key_id=caller.api_key_id,
            details={"name": name},
            ip=ip,
        )
        await session.flush()
    return WorkspaceMembership(workspace, caller.role)


async def list_members(session: AsyncSession, caller: Caller) -> list[Member]:
    rows = await repository.list_members(session, caller.workspace_id)
    return [Member(*row) for row in rows]


INVITATION_MAIL_TASK = "workspaces.send_invitation"
_INVITATION_TOKEN_PURPOSE = "invitation"  # noqa: S105 (an HMAC label)


def invitation_token(policy: InvitationPolicy, invitation_id: uuid.UUID) -> str:
    """The invitation's one-time token, made again from its id by the mail job."""
    return derived_token(policy.token_secret, _INVITATION_TOKEN_PURPOSE, invitation_id)


async def invite(
    session: AsyncSession,
    jobs: JobBuffer,
    plans: PlanCatalog,
    policy: InvitationPolicy,
    caller: Caller,
    *,
    email: str,
    role: Role,
    ip: str | None,
) -> tuple[Invitation, str]:
    """An invitation for `email` and its one-time token; a job mails it after the commit."""
    require_role(caller, Role.owner)
    workspace = await _workspace(session, caller.workspace_id)
    invitee = await credentials.get_user_by_email(session, email)
    if invitee is not None and await repository.get_membership(session, workspace.id, invitee.id):
        raise AlreadyMember()
    # An open invitation holds a seat: 402 once members and open invitations fill the plan.
    await ensure_seat(session, plans, workspace.id, inviting=True)
    now = utcnow()
    invitation_id = new_id()
    token = invitation_token(policy, invitation_id)
    invitation = Invitation(
        id=invitation_id,
        workspace_id=workspace.id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_user_id=caller.user_id,
        created_at=now,
        expires_at=now + policy.ttl,
    )
    session.add(invitation)
    await session.flush()
    record_audit_event(
        session,
        action="member.invited",
        workspace_id=workspace.id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"invitation_id": str(invitation.id), "email": email, "role": role.value},
        ip=ip,
    )
    jobs.defer(INVITATION_MAIL_TASK, invitation_id=str(invitation.id))
    return invitation, token


async def invitation_mail(
    session: AsyncSession, policy: InvitationPolicy, invitation_id: uuid.UUID
) -> MailMessage | None:
    """In the job: the mail of a still-open invitation; None once it was accepted, revoked,
    expired or deleted (nothing to send)."""
    invitation = await repository.get_invitation(session, invitation_id)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        return None
    workspace = await repository.get_workspace(session, invitation.workspace_id)
    if workspace is None:
        return None
    token = invitation_token(policy, invitation.id)
    link = f"{policy.public_base_url.rstrip('/')}/invitations/accept?token={token}"
    return MailMessage(
        to=invitation.email,
        subject="You are invited to a SiteChat workspace",
        body=(
            f"You are invited to join the SiteChat workspace {workspace.name!r} "
            f"as {invitation.role.value}.\n\nSign in with this email address and open:\n"
            f"{link}\n\nInvitation token: {token}"
        ),
    )


async def accept_invitation(
    session: AsyncSession, plans: PlanCatalog, user_id: uuid.UUID, *, token: str, ip: str | None
) -> WorkspaceMembership:
    """The signed-in user joins, if the invitation was addressed to their email."""
    now = utcnow()
    invitation = await repository.find_invitation_for_update(session, hash_token(token))
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise InvalidInvitation()
    user = await credentials.get_user(session, user_id)
    if user is None or user.email != invitation.email:
        # Someone else's invitation: do not even confirm that it exists.
        raise NotFound("Invitation")
    if await repository.get_membership(session, invitation.workspace_id, user_id):
        raise AlreadyMember()
    # The plan may have shrunk since the invitation was sent.
    await ensure_seat(session, plans, invitation.workspace_id, inviting=False)
    session.add(
        Membership(workspace_id=invitation.workspace_id, user_id=user_id, role=invitation.role)
    )
    invitation.accepted_at = now
    record_audit_event(
        session,
        action="member.joined",
        workspace_id=invitation.workspace_id,
        actor_user_id=user_id,
        details={"invitation_id": str(invitation.id), "role": invitation.role.value},
        ip=ip,
    )
    await session.flush()
    return WorkspaceMembership(await _workspace(session, invitation.workspace_id), invitation.role)


async def _member(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> Membership:
    membership = await repository.get_membership(
        session, caller.workspace_id, user_id, for_update=True
    )
    if membership is None:
        raise NotFound("Member")
    return membership


async def _refuse_losing_last_owner(session: AsyncSession, membership: Membership) -> None:
    if membership.role is not Role.owner:
        return
    owners = await repository.lock_owners(session, membership.workspace_id)
    if owners == [membership.user_id]:
        raise LastOwner()


async def change_member_role(
    session: AsyncSession, caller: Caller, user_id: uuid.UUID, *, role: Role, ip: str | None
) -> Member:
    require_role(caller, Role.owner)
    membership = await _member(session, caller, user_id)
    previous = membership.role
    if role is not previous:
        if role is not Role.owner:
            await _refuse_losing_last_owner(session, membership)
        membership.role = role
        membership.updated_at = utcnow()
        await announce_revocation(session)  # a demoted admin's cached role goes everywhere
        record_audit_event(
            session,
            action="member.role_changed",
            workspace_id=caller.workspace_id,
            actor_user_id=caller.user_id,
            actor_api_key_id=caller.api_key_id,
            details={"user_id": str(user_id), "from": previous.value, "to": role.value},
            ip=ip,
        )
        await session.flush()
    for member in await list_members(session, caller):
        if member.user_id == user_id:
            return member
    raise NotFound("Member")


async def remove_member(
    session: AsyncSession, caller: Caller, user_id: uuid.UUID, *, ip: str | None
) -> None:
    """Owners remove anyone; every member may leave."""
    if caller.user_id != user_id:
        require_role(caller, Role.owner)
    membership = await _member(session, caller, user_id)
    await _refuse_losing_last_owner(session, membership)
    await repository.delete_membership(session, membership)
    await announce_revocation(session)
    record_audit_event(
        session,
        action="member.left" if caller.user_id == user_id else "member.removed",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"user_id": str(user_id), "role": membership.role.value},
        ip=ip,
    )
    await session.flush()


async def list_audit_events(
    session: AsyncSession, caller: Caller, *, limit: int, cursor: str | None
) -> AuditEventPage:
    require_role(caller, Role.owner)
    return await list_workspace_events(session, caller.workspace_id, limit=limit, cursor=cursor)
