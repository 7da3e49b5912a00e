"""Request and response bodies of the workspace, member, invitation and audit routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sitechat.core.fields import Email, OpaqueToken, WorkspaceName
from sitechat.models.accounts import Role


class WorkspaceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    is_personal: bool
    created_at: datetime
    updated_at: datetime


class WorkspaceWithRole(WorkspaceRead):
    role: Role = Field(description="The caller's role in this workspace.")


class WorkspaceList(BaseModel):
    items: list[WorkspaceWithRole]
    next_cursor: str | None = None


class WorkspaceUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Acme support"}]}
    )

    name: WorkspaceName | None = None


class MemberRead(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    joined_at: datetime


class MemberList(BaseModel):
    items: list[MemberRead]
    next_cursor: str | None = None


class MemberRoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "admin"}]})

    role: Role


class InvitationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "grace@example.com", "role": "member"}]},
    )

    email: Email
    role: Role = Role.member


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    workspace_id: uuid.UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    token: str = Field(
        description="One-time token the invitee posts to /v1/invitations/accept; "
        "also sent by mail. Shown once."
    )


class InvitationAccept(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "from-the-invitation-mail"}]}
    )

    token: OpaqueToken


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str = Field(examples=["api_key.created"])
    workspace_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    details: dict[str, Any]
    ip_address: str | None
    created_at: datetime


class AuditEventList(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next (older) page; null on the last page."
    )
