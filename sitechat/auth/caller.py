"""The resolved identity of a request: a workspace, a role, and the user or API key behind it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sitechat.models.accounts import Role


@dataclass(frozen=True)
class Caller:
    workspace_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    plan_id: str | None = None
    """The workspace's paid plan in force when the credential was looked up (cached for
    seconds): rate limits only; quotas read the subscription themselves."""

    def can(self, role: Role) -> bool:
        return self.role.at_least(role)
