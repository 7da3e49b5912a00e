"""HTTP routes of workspaces, their members, invitations and audit log.

For `/workspaces/{workspace_id}/...` the path decides the workspace (`X-Workspace-ID` is not
read): a person who is not a member, or an API key of another workspace, gets 404 exactly as
for a workspace that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, status
from starlette.responses import Response

from sitechat.auth.caller import Caller
from sitechat.auth.dependencies import (
    CallerDep,
    ClientIpDep,
    CurrentUserIdDep,
    auth_state,
    bearer_scheme,
    get_caller,
)
from sitechat.billing.dependencies import PlansDep
from sitechat.core.caching import NO_STORE
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import NotFound, problem_responses
from sitechat.core.routing import api_router
from sitechat.core.state import app_state
from sitechat.workspaces import service
from sitechat.workspaces.schemas import (
    AuditEventList,
    AuditEventRead,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    MemberList,
    MemberRead,
    MemberRoleUpdate,
    WorkspaceList,
    WorkspaceUpdate,
    WorkspaceWithRole,
)
from sitechat.workspaces.tasks import invitation_policy

MAX_PAGE_SIZE = 100


async def get_workspace_caller(
    workspace_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(bearer_scheme)],
) -> Caller:
    """The caller resolved for the workspace named in the path."""
    caller = await get_caller(request, session, token, workspace_header=str(workspace_id))
    if caller.workspace_id != workspace_id:
        raise NotFound("Workspace")
    return caller


WorkspaceCallerDep = Annotated[Caller, Depends(get_workspace_caller)]


def _with_role(membership: service.WorkspaceMembership) -> WorkspaceWithRole:
    workspace = membership.workspace
    return WorkspaceWithRole(
        id=workspace.id,
        name=workspace.name,
        is_personal=workspace.is_personal,
        created_at=workspace.created_at,
        updated_at=workspace.updated_at,
        role=membership.role,
    )


def _member(member: service.Member) -> MemberRead:
    return MemberRead(
        user_id=member.user_id,
        email=member.email,
        full_name=member.full_name,
        role=member.role,
        joined_at=member.joined_at,
    )


def _invitation_policy(request: Request) -> service.InvitationPolicy:
    return invitation_policy(app_state(request).settings)


router = api_router(prefix="/workspaces", tags=["workspaces"])


@router.get("", summary="Your workspaces", responses=problem_responses(401))
async def list_workspaces(caller: CallerDep, session: SessionDep) -> WorkspaceList:
    """Every workspace you belong to, with your role, in joining order (personal first).

    Pick the workspace other routes act on with the `X-Workspace-ID` header; without it they
    act on your personal workspace. An API key lists only its own workspace.
    """
    memberships = await service.list_workspaces(session, caller)
    return WorkspaceList(items=[_with_role(membership) for membership in memberships])


@router.get("/{workspace_id}", summary="One workspace", responses=problem_responses(401, 404))
async def get_workspace(caller: WorkspaceCallerDep, session: SessionDep) -> WorkspaceWithRole:
    """The workspace and your role in it."""
    return _with_role(await service.get_workspace(session, caller))


@router.patch(
    "/{workspace_id}",
    summary="Rename a workspace",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_workspace(
    body: WorkspaceUpdate, caller: WorkspaceCallerDep, session: SessionDep, ip: ClientIpDep
) -> WorkspaceWithRole:
    """Needs admin."""
    membership = await service.update_workspace(session, caller, name=body.name, ip=ip)
    return _with_role(membership)


@router.get("/{workspace_id}/members", summary="Members", responses=problem_responses(401, 404))
async def list_members(caller: WorkspaceCallerDep, session: SessionDep) -> MemberList:
    """Everyone in the workspace with their role, oldest member first."""
    members = await service.list_members(session, caller)
    return MemberList(items=[_member(member) for member in members])


@router.post(
    "/{workspace_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email",
    responses=problem_responses(401, 403, 404, 409, 422),
    dependencies=[NO_STORE],
)
async def invite(
    body: InvitationCreate,
    caller: WorkspaceCallerDep,
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    request: Request,
    ip: ClientIpDep,
) -> InvitationCreated:
    """Mail a one-time invitation token (also returned here, once). Needs owner.

    The invitee signs in (or registers) with that email and posts the token to
    `POST /v1/invitations/accept`.
    """
    invitation, token = await service.invite(
        session,
        jobs,
        plans,
        _invitation_policy(request),
        caller,
        email=body.email,
        role=body.role,
        ip=ip,
    )
    return InvitationCreated(
        id=invitation.id,
        workspace_id=invitation.workspace_id,
        email=invitation.email,
        role=invitation.role,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        token=token,
    )


@router.patch(
    "/{workspace_id}/members/{user_id}",
    summary="Change a member's role",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def change_member_role(
    user_id: uuid.UUID,
    body: MemberRoleUpdate,
    caller: WorkspaceCallerDep,
    session: SessionDep,
    request: Request,
    ip: ClientIpDep,
) -> MemberRead:
    """Needs owner. Demoting the last owner answers 409 `last-owner`."""
    member = await service.change_member_role(session, caller, user_id, role=body.role, ip=ip)
    auth_state(request).membership_cache.clear()
    return _member(member)


@router.delete(
    "/{workspace_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member, or leave",
    responses=problem_responses(401, 403, 404, 409),
)
async def remove_member(
    user_id: uuid.UUID,
    caller: WorkspaceCallerDep,
    session: SessionDep,
    request: Request,
    ip: ClientIpDep,
) -> Response:
    """Owners remove anyone; any member may remove themselves (leave).

    The last owner cannot be removed (409 `last-owner`).
    """
    await service.remove_member(session, caller, user_id, ip=ip)
    auth_state(request).membership_cache.clear()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{workspace_id}/audit-events",
    summary="Audit log",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_audit_events(
    caller: WorkspaceCallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditEventList:
    """Security-relevant actions in the workspace, newest first. Needs owner.

    Sign-ins, password changes, refresh-token reuse, API keys created and revoked, members
    invited, joined, removed and their role changes.
    """
    page = await service.list_audit_events(session, caller, limit=limit, cursor=cursor)
    return AuditEventList(
        items=[AuditEventRead.model_validate(event) for event in page.items],
        next_cursor=page.next_cursor,
    )


invitations_router = api_router(prefix="/invitations", tags=["workspaces"])


@invitations_router.post(
    "/accept",
    summary="Accept an invitation",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def accept_invitation(
    body: InvitationAccept,
    user_id: CurrentUserIdDep,
    session: SessionDep,
    plans: PlansDep,
    request: Request,
    ip: ClientIpDep,
) -> WorkspaceWithRole:
    """Join the workspace you were invited to; the invitation must be addressed to your email.

    Expired or used invitations: 400 `invalid-invitation`.
    """
    membership = await service.accept_invitation(session, plans, user_id, token=body.token, ip=ip)
    auth_state(request).membership_cache.clear()
    return _with_role(membership)
