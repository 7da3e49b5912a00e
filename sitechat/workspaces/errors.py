"""Problems the workspaces domain raises; each has a stable `type` slug."""

from __future__ import annotations

from sitechat.core.errors import BadRequest, Conflict


class LastOwner(Conflict):
    slug = "last-owner"
    title = "Last owner"

    def __init__(self) -> None:
        super().__init__("A workspace needs an owner; make another member an owner first.")


class AlreadyMember(Conflict):
    slug = "already-member"
    title = "Already a member"

    def __init__(self) -> None:
        super().__init__("This person is already a member of the workspace.")


class InvalidInvitation(BadRequest):
    slug = "invalid-invitation"
    title = "Invalid invitation"

    def __init__(self) -> None:
        super().__init__("The invitation is invalid, expired or already used.")
