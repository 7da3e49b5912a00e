"""Request and response bodies of the auth, profile and API key routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sitechat.core.fields import (
    Email,
    FullName,
    GivenPassword,
    LoginEmail,
    NewPassword,
    OpaqueToken,
    ShortName,
)
from sitechat.core.passwords import password_weakness
from sitechat.models.accounts import Role
from sitechat.workspaces.schemas import WorkspaceRead


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterRequest(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "a long and uncommon passphrase",
                    "full_name": "Ada Lovelace",
                }
            ]
        },
    )

    email: Email
    password: NewPassword
    full_name: FullName

    @model_validator(mode="after")
    def _password_is_not_the_email(self) -> RegisterRequest:
        weakness = password_weakness(self.password, self.email)
        if weakness:
            raise ValueError(weakness)
        return self


class LoginRequest(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "a long and uncommon passphrase"}]
        },
    )

    email: LoginEmail
    password: GivenPassword


class RefreshRequest(RequestModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"refresh_token": "r3fr35h-t0k3n..."}]}
    )

    refresh_token: OpaqueToken


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str
    personal_workspace_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class RegistrationRead(BaseModel):
    user: UserRead
    workspace: WorkspaceRead
    tokens: TokenPair


class UserUpdate(RequestModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"full_name": "Ada King"}]}
    )

    full_name: FullName | None = None
    email: Email | None = None


class PasswordChange(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "current_password": "a long and uncommon passphrase",
                    "new_password": "another long uncommon passphrase",
                }
            ]
        },
    )

    current_password: GivenPassword
    new_password: NewPassword


class PasswordResetRequest(RequestModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.com"}]}
    )

    email: Email


class PasswordResetConfirm(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"token": "from-the-email", "new_password": "another long uncommon passphrase"}
            ]
        },
    )

    token: OpaqueToken
    new_password: NewPassword


class ApiKeyCreate(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "website backend", "role": "member", "expires_at": "2027-01-01T00:00:00Z"}
            ]
        },
    )

    name: ShortName
    role: Role = Field(
        default=Role.member,
        description=(
            "At most the creator's own role in the workspace. The default, `member`, reads and "
            "chats but cannot create chatbots or start crawls: use `admin` for a key that "
            "manages chatbots. The response lists what the key can and cannot do."
        ),
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="Optional expiry in the future; no expiry when omitted."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    prefix: str = Field(description="Public part of the key, to recognise it in lists.")
    role: Role
    created_by_user_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The full key, `sk_<prefix>_<secret>`. Shown once; store it now.",
        examples=["sk_0a1b2c3d4e5f_9sQ..."],
    )
    can: list[str] = Field(
        default_factory=list, description="What the key's role allows (docs/permissions.md)."
    )
    cannot: list[str] = Field(
        default_factory=list,
        description="What it does not, each with the least role that does; empty for owner.",
        examples=[["create, change and delete chatbots and sources (needs admin)"]],
    )


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
    next_cursor: str | None = None
