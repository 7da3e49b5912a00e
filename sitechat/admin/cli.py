"""`sitechat admin <command>`: parse, run one transaction against the database, print.

    sitechat admin create-user EMAIL [--name NAME] [--password-stdin]
    sitechat admin list-workspaces [--json]
    sitechat admin set-plan WORKSPACE_ID PLAN_ID [--interval month|year] [--billing]
    sitechat admin create-api-key WORKSPACE_ID [--name NAME] [--role member|admin|owner]
    sitechat admin unlock EMAIL

Problems are printed as one line on stderr with exit status 1; nothing is changed then. A
configuration `serve` would refuse never gets here (`cli.py` refuses it first, exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
from pydantic import ValidationError
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.accounts.errors import EmailTaken
from sitechat.admin import service
from sitechat.auth.capabilities import role_can, role_cannot
from sitechat.billing.catalog import PlanCatalogError, load_catalog
from sitechat.billing.plans import PlanCatalog, UnknownPlanError
from sitechat.config import Settings
from sitechat.core.errors import ProblemError, caused_by
from sitechat.core.security import ApiKeyHasher
from sitechat.models.accounts import Role

T = TypeVar("T")


class AdminError(Exception):
    """A problem to show the operator as one line."""


def _problem_line(error: Exception, plans: PlanCatalog | None) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            (".".join(str(part) for part in item["loc"]) + ": " if item["loc"] else "")
            + str(item["msg"]).removeprefix("Value error, ")
            for item in error.errors()
        )
    if isinstance(error, EmailTaken):
        # The operator may know what a visitor may not (the API's wording hides it).
        return "a user with this email address exists already"
    if isinstance(error, ProblemError):
        return error.detail
    if isinstance(error, UnknownPlanError) and plans is not None:
        known = ", ".join(plan.id for plan in plans.plans)
        return f"there is no plan {error.plan_id!r}; the plans are {known}"
    return str(error)


async def _in_transaction(
    settings: Settings, url: str, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    from sitechat.core.db import create_engine, create_sessionmaker

    engine = create_engine(url, settings.db)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    except ProgrammingError as error:
        if caused_by(error, (asyncpg.UndefinedTableError,)):
            raise AdminError(
                "the database has no SiteChat tables yet: run `sitechat migrate`"
            ) from None
        raise
    finally:
        await engine.dispose()


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return secrets.token_urlsafe(18), True


async def _create_user(
    settings: Settings, plans: PlanCatalog, url: str, args: argparse.Namespace
) -> None:
    password, generated = _password(args)
    created = await _in_transaction(
        settings,
        url,
        lambda session: service.create_user(
            session,
            settings,
            email=args.email,
            password=password,
            full_name=args.name or args.email.partition("@")[0],
        ),
    )
    print(f"user {created.user.id} {created.user.email}")
    print(f"workspace {created.workspace.id} {created.workspace.name}")
    if generated:
        print(f"password {password}  (shown once)")


async def _list_workspaces(
    settings: Settings, plans: PlanCatalog, url: str, args: argparse.Namespace
) -> None:
    rows = await _in_transaction(settings, url, service.list_workspaces)
    for row in rows:
        subscription = row.subscription
        record = {
            "id": str(row.id),
            "name": row.name,
            "personal": row.is_personal,
            "owners": row.owners,
            "members": row.members,
            "chatbots": row.chatbots,
            "plan": service.plan_of(plans, row),
            "subscription": subscription.status.value if subscription else None,
            "granted": bool(subscription and subscription.granted),
        }
        if args.json:
            print(json.dumps(record))
        else:
            granted = " (granted)" if record["granted"] else ""
            print(
                f"{record['id']}  {record['plan']}{granted}  members={row.members} "
                f"chatbots={row.chatbots}  {','.join(row.owners) or '-'}  {row.name}"
            )


async def _set_plan(
    settings: Settings, plans: PlanCatalog, url: str, args: argparse.Namespace
) -> None:
    gateway = None
    if args.billing:
        if settings.billing.gateway == "none":
            raise AdminError(
                "billing is off (SITECHAT_BILLING_GATEWAY=none): run set-plan without --billing "
                "to grant the plan"
            )
        from sitechat.billing.dependencies import build_gateway

        gateway = build_gateway(settings.billing)
    plan_id = await _in_transaction(
        settings,
        url,
        lambda session: service.set_plan(
            session,
            plans,
            gateway,
            args.workspace_id,
            plan_id=args.plan_id,
            interval=args.interval,
        ),
    )
    how = "through billing" if args.billing else "granted, no invoices"
    print(f"workspace {args.workspace_id} is on plan {plan_id} ({how})")


async def _create_api_key(
    settings: Settings, plans: PlanCatalog, url: str, args: argparse.Namespace
) -> None:
    hasher = ApiKeyHasher(settings.auth.api_key_pepper.get_secret_value())
    role = Role(args.role)
    api_key, plaintext = await _in_transaction(
        settings,
        url,
        lambda session: service.create_api_key(
            session, plans, hasher, args.workspace_id, name=args.name, role=role
        ),
    )
    print(f"key {plaintext}  (shown once)")
    print(f"id {api_key.id}  role {role.value}")
    for action in role_can(role):
        print(f"  can: {action}")
    for action in role_cannot(role):
        print(f"  cannot: {action}")


async def _unlock(
    settings: Settings, plans: PlanCatalog, url: str, args: argparse.Namespace
) -> None:
    await _in_transaction(settings, url, lambda session: service.require_user(session, args.email))
    if settings.redis.url is None:
        raise AdminError(
            "REDIS_URL is not set, so login lockouts live in the memory of the running API "
            "process: restarting `sitechat serve` lifts them (they also expire within 15 minutes)"
        )
    from sitechat.core.login_throttle import LoginThrottle
    from sitechat.core.ratelimit import create_storage

    storage = create_storage(
        settings.redis.url,
        key_prefix=settings.ratelimit.key_prefix,
        timeout_seconds=settings.ratelimit.storage_timeout_seconds,
    )
    throttle = LoginThrottle(storage)
    was_locked = await throttle.is_locked(args.email)
    await throttle.unlock(args.email)  # its failed attempts so far are forgotten either way
    if was_locked:
        print(f"{args.email} can sign in again")
    else:
        print(f"{args.email} was not locked out: nothing to lift")


_COMMANDS: dict[
    str, Callable[[Settings, PlanCatalog, str, argparse.Namespace], Coroutine[Any, Any, None]]
] = {
    "create-user": _create_user,
    "list-workspaces": _list_workspaces,
    "set-plan": _set_plan,
    "create-api-key": _create_api_key,
    "unlock": _unlock,
}


def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    from sitechat.core.embedded_db import NoDatabase, configured_database
    from sitechat.core.logging import configure_logging

    configure_logging("WARNING")  # the command's own lines are its output
    plans: PlanCatalog | None = None
    try:
        plans = load_catalog(settings.billing.plans_file)
        with configured_database(settings, existing=True) as url:
            asyncio.run(_COMMANDS[args.admin_command](settings, plans, url, args))
    except (
        AdminError,
        NoDatabase,
        PlanCatalogError,
        ProblemError,
        ValidationError,
        UnknownPlanError,
    ) as error:
        print(f"sitechat admin: {_problem_line(error, plans)}", file=sys.stderr)
        return 1
    return 0
