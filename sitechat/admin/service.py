"""The operator's actions: the same rules as the API's, acting as the workspace's owner.

Each takes the session first and never commits (`admin/cli.py` runs one transaction per
command). Users are made by the sign-up rules (`accounts.registration.register`), keys by the API
key rules, plans by the billing engine: with billing (`change_subscription`, charged through the
gateway like an owner's request) or as an operator's grant (`billing/grants.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts import api_keys, registration
from sitechat.accounts.schemas import RegisterRequest
from sitechat.accounts.tokens import TokenIssuer
from sitechat.admin import repository
from sitechat.admin.repository import WorkspaceRow
from sitechat.auth.caller import Caller
from sitechat.billing import grants
from sitechat.billing.invoicing import GatewayContext
from sitechat.billing.plans import BillingInterval, PlanCatalog
from sitechat.billing.service import change_subscription, effective_plan
from sitechat.config import Settings
from sitechat.core.errors import NotFound
from sitechat.core.security import ApiKeyHasher, TokenSigner
from sitechat.models.accounts import ApiKey, Role, User, Workspace


@dataclass(frozen=True)
class CreatedUser:
    user: User
    workspace: Workspace


async def create_user(
    session: AsyncSession, settings: Settings, *, email: str, password: str, full_name: str
) -> CreatedUser:
    """A user with their personal workspace, by the sign-up rules (`RegisterRequest`'s checks;
    a `pydantic.ValidationError` names what is wrong)."""
    request = RegisterRequest(email=email, password=password, full_name=full_name)
    issuer = TokenIssuer(
        signer=TokenSigner(settings.auth),
        refresh_ttl=timedelta(seconds=settings.auth.refresh_token_ttl_seconds),
    )
    created = await registration.register(
        session,
        issuer,
        email=request.email,
        password=request.password,
        full_name=request.full_name,
        ip=None,
    )
    return CreatedUser(created.user, created.workspace)


async def list_workspaces(session: AsyncSession) -> list[WorkspaceRow]:
    return await repository.list_workspaces(session)


def plan_of(plans: PlanCatalog, row: WorkspaceRow) -> str:
    return effective_plan(plans, row.subscription).id


async def _require_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    if not await repository.workspace_exists(session, workspace_id):
        raise NotFound("Workspace")


def _operator(workspace_id: uuid.UUID) -> Caller:
    """The operator acts with an owner's rights, as nobody in particular (audit: no actor)."""
    return Caller(workspace_id=workspace_id, role=Role.owner)


async def set_plan(
    session: AsyncSession,
    plans: PlanCatalog,
    gateway: GatewayContext | None,
    workspace_id: uuid.UUID,
    *,
    plan_id: str,
    interval: BillingInterval,
) -> str:
    """Put the workspace on the plan; with a gateway, through billing (a paid plan needs the
    workspace's default payment method and is charged now), else as a grant. Returns the
    plan in force afterwards."""
    await _require_workspace(session, workspace_id)
    plan = plans.get(plan_id)
    if gateway is None:
        await grants.grant_plan(session, workspace_id, plan, interval)
        return plan.id
    state = await change_subscription(
        session, plans, gateway, _operator(workspace_id), plan_id=plan.id, interval=interval
    )
    return state.plan.id


async def create_api_key(
    session: AsyncSession,
    plans: PlanCatalog,
    hasher: ApiKeyHasher,
    workspace_id: uuid.UUID,
    *,
    name: str,
    role: Role,
) -> tuple[ApiKey, str]:
    await _require_workspace(session, workspace_id)
    return await api_keys.create_api_key(
        session,
        plans,
        hasher,
        _operator(workspace_id),
        name=name,
        role=role,
        expires_at=None,
        ip=None,
    )


async def require_user(session: AsyncSession, email: str) -> None:
    if await repository.find_user_id(session, email) is None:
        raise NotFound("User")
