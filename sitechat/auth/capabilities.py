"""What each role may do, in words: shown when an API key is created (and in docs/permissions.md).

The routes enforce roles with `MemberDep`, `AdminDep` and `OwnerDep`; this table says the same
thing for people, so a key made with the default role says at creation that it cannot, say,
create a chatbot, instead of a later 403 being the first hint.
"""

from __future__ import annotations

from sitechat.models.accounts import Role

_MEMBER = (
    "read the workspace, its chatbots, sources, crawls and pages",
    "chat: conversations, messages, streaming, the OpenAI-compatible API",
    "read analytics and export conversations; hand conversations off and reply as an agent",
    "search a chatbot's sources",
    "read billing usage",
)
_ADMIN = (
    "create, change and delete chatbots and sources",
    "list and export the leads visitors leave",
    "start, cancel and retry crawls",
    "rename the workspace",
    "list, create and revoke API keys (of at most its own role)",
    "read the subscription, payment methods and invoices",
)
_OWNER = (
    "invite members, change roles, remove members",
    "read the audit log",
    "subscribe, change plan, cancel, manage payment methods",
)
_GRANTED: dict[Role, tuple[str, ...]] = {
    Role.member: _MEMBER,
    Role.admin: _MEMBER + _ADMIN,
    Role.owner: _MEMBER + _ADMIN + _OWNER,
}


def role_can(role: Role) -> list[str]:
    return list(_GRANTED[role])


def role_cannot(role: Role) -> list[str]:
    """What the role may not do, each with the least role that may."""
    added = {Role.admin: _ADMIN, Role.owner: _OWNER}
    return [
        f"{action} (needs {higher.value})"
        for higher, actions in added.items()
        if not role.at_least(higher)
        for action in actions
    ]
