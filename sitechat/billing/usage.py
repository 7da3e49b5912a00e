"""Usage metering and quota checks against the workspace's plan.

Counted from rows the other domains write: chatbots = chatbots not archived; members =
memberships (and, when inviting, the invitations still open); messages = `UsageEvent` rows of
kind `message` (recorded idempotently by the chat domain, one `event_key` per answer); pages =
`UsageEvent` rows of kind `pages`, one per crawl: the pages it may index are reserved when it
starts (`reserve_crawl_pages`) and the reservation becomes the pages it indexed when it ends
(`settle_crawl_pages`); a file-source run records the pages it indexed
(`record_file_pages`). Usage events outlive the chatbots, crawls and conversations they
count, so deleting them never gives usage back: usage is what was done this period.

The usage period is the subscription's current period for a monthly plan, the current month
of a yearly plan's period (anchored on the subscription's day), and the calendar month (UTC)
on the free plan. A change of billing interval starts a new billing period but not a new usage
period: the first usage month of the new period reaches back to the start of the usage month
the change interrupted (`Subscription.usage_carried_from`), so the counters keep counting.

`ensure_quota` takes a per-workspace transaction-level advisory lock before counting, so
concurrent requests of one workspace check and insert one after the other and never overshoot
a limit; the caller must insert what it counted in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.billing import repository
from sitechat.billing.plans import FEATURES, Plan, PlanCatalog
from sitechat.billing.service import effective_plan
from sitechat.billing.usage_periods import UsagePeriod, usage_period
from sitechat.core.clock import utcnow
from sitechat.core.errors import PaymentRequired
from sitechat.models.chat import UsageEvent
from sitechat.models.crawling import CrawlJob

USAGE_BY_LIMIT: dict[str, str] = {
    "chatbots": "chatbots",
    "messages_per_month": "messages",
    "pages_per_month": "pages",
    "members": "members",
}
"""Plan limit name -> usage counter name (as in `GET /v1/billing/usage`)."""
_LIMIT_BY_USAGE = {usage: limit for limit, usage in USAGE_BY_LIMIT.items()}


@dataclass(frozen=True, slots=True)
class UsageReport:
    period: UsagePeriod
    plan: Plan
    usage: dict[str, int]
    limits: dict[str, int]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limit: str
    limit_value: int
    usage: int
    """Usage before the request that asked."""
    plan: Plan

    @property
    def remaining(self) -> int:
        return max(0, self.limit_value - self.usage)


async def _count(
    session: AsyncSession, workspace_id: uuid.UUID, usage_name: str, period: UsagePeriod
) -> int:
    if usage_name == "chatbots":
        return await repository.count_chatbots(session, workspace_id)
    if usage_name == "members":
        return await repository.count_members(session, workspace_id)
    if usage_name == "messages":
        return await repository.sum_messages(session, workspace_id, period.start, period.end)
    if usage_name == "pages":
        return await repository.sum_pages(session, workspace_id, period.start, period.end)
    raise ValueError(f"unknown usage counter {usage_name!r}")


async def usage_report(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID
) -> UsageReport:
    subscription = await repository.get_subscription(session, workspace_id)
    plan = effective_plan(plans, subscription)
    period = usage_period(subscription, utcnow())
    usage = {
        usage_name: await _count(session, workspace_id, usage_name, period)
        for usage_name in USAGE_BY_LIMIT.values()
    }
    limits = {
        usage_name: plan.limit(limit_name) for limit_name, usage_name in USAGE_BY_LIMIT.items()
    }
    return UsageReport(period=period, plan=plan, usage=usage, limits=limits)


def _limit_name(name: str) -> str:
    limit_name = _LIMIT_BY_USAGE.get(name, name)
    if limit_name not in USAGE_BY_LIMIT:
        raise ValueError(f"no quota is metered for {name!r}")
    return limit_name


async def quota_status(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID, limit_name: str
) -> QuotaStatus:
    """Usage against one limit, after taking the workspace's quota lock."""
    limit_name = _limit_name(limit_name)
    await repository.lock_workspace_quota(session, workspace_id)
    subscription = await repository.get_subscription(session, workspace_id)
    plan = effective_plan(plans, subscription)
    period = usage_period(subscription, utcnow())
    used = await _count(session, workspace_id, USAGE_BY_LIMIT[limit_name], period)
    return QuotaStatus(limit=limit_name, limit_value=plan.limit(limit_name), usage=used, plan=plan)


def _quota_exceeded(
    plans: PlanCatalog, status: QuotaStatus, needed: int, detail: str
) -> PaymentRequired:
    upgrade = plans.cheapest_allowing(status.limit, status.usage + needed)
    return PaymentRequired(
        detail,
        extra={
            "limit": status.limit,
            "limit_value": status.limit_value,
            "usage": status.usage,
            "plan_id": status.plan.id,
            "upgrade_plan_id": upgrade.id if upgrade else None,
        },
    )


async def ensure_quota(
    session: AsyncSession,
    plans: PlanCatalog,
    workspace_id: uuid.UUID,
    limit_name: str,
    needed: int = 1,
) -> QuotaStatus:
    """Raise 402 `quota-exceeded` unless `needed` more fits under the plan's `limit_name`.

    `limit_name` is a plan limit (`chatbots`, `messages_per_month`, `pages_per_month`,
    `members`) or its usage name (`messages`, `pages`). Call it in the transaction that then
    inserts the counted rows: the quota lock is held until that transaction ends. A crawl can
    cap its pages with the returned `remaining`.
    """
    status = await quota_status(session, plans, workspace_id, limit_name)
    ensure_room(plans, status, needed)
    return status


def ensure_room(plans: PlanCatalog, status: QuotaStatus, needed: int = 1) -> None:
    """`ensure_quota` for a status already read (with `quota_status`, whose lock it took), by
    a caller that first checks other limits of `status.plan`."""
    if status.usage + needed > status.limit_value:
        raise _quota_exceeded(
            plans,
            status,
            needed,
            f"The {status.plan.name} plan allows {_counted(status.limit_value, status.limit)}; "
            f"{status.usage} {'is' if status.usage == 1 else 'are'} used.",
        )


def _counted(number: int, things: str) -> str:
    """`1 chatbot`, `3 chatbots` (`things`: a limit's plural name)."""
    return f"{number} {things.removesuffix('s') if number == 1 else things}"


async def ensure_seat(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID, *, inviting: bool
) -> None:
    """402 unless one more person fits under the plan's `members` limit. An invitation holds
    a seat while it is open, so a full workspace cannot hand out more invitations than it
    has seats; accepting counts members only (the invitation's own seat is among the open)."""
    status = await quota_status(session, plans, workspace_id, "members")
    waiting = (
        await repository.count_open_invitations(session, workspace_id, utcnow()) if inviting else 0
    )
    if status.usage + waiting + 1 > status.limit_value:
        raise _quota_exceeded(
            plans,
            status,
            waiting + 1,
            f"The {status.plan.name} plan allows {status.limit_value} members; "
            f"{status.usage} are members and {waiting} invitations are open.",
        )


async def reserve_crawl_pages(
    session: AsyncSession,
    plans: PlanCatalog,
    workspace_id: uuid.UUID,
    *,
    crawl_job_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    wanted: int,
) -> int:
    """Reserve up to `wanted` pages of the period's allowance for a crawl starting now, and
    return how many: the crawl's page budget (402 once nothing is left).

    Under the workspace's quota lock, and recorded in the caller's transaction, so parallel
    starts of one workspace reserve one after the other and together never exceed it.
    """
    status = await ensure_quota(session, plans, workspace_id, "pages")
    pages = min(wanted, status.remaining, status.plan.limits.crawl_max_pages)
    _record_pages(
        session, workspace_id, chatbot_id, pages, repository.crawl_usage_key(crawl_job_id)
    )
    return pages


async def ensure_crawl_size(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID, pages: int
) -> None:
    """402 `quota-exceeded` when a crawl asks for more pages than the plan crawls at once
    (`crawl_max_pages`): refused with the cap and the plan above it, never cut to it behind
    the customer's back. (`reserve_crawl_pages` still caps a retry or a re-sync, which asks
    again for what a crawl asked under the plan of its day.)"""
    plan = await workspace_plan(session, plans, workspace_id)
    cap = plan.limits.crawl_max_pages
    if pages <= cap:
        return
    upgrade = plans.cheapest_allowing("crawl_max_pages", pages)
    detail = f"The {plan.name} plan crawls at most {cap} pages per crawl; {pages} were asked for."
    if upgrade is not None:
        detail += f" The {upgrade.name} plan crawls up to {upgrade.limits.crawl_max_pages}."
    raise PaymentRequired(
        detail,
        extra={
            "limit": "crawl_max_pages",
            "limit_value": cap,
            "plan_id": plan.id,
            "upgrade_plan_id": upgrade.id if upgrade else None,
            "errors": [
                {
                    "loc": ["body", "max_pages"],
                    "msg": f"at most {cap} pages per crawl on the {plan.name} plan",
                }
            ],
        },
    )


async def settle_crawl_pages(session: AsyncSession, job: CrawlJob) -> None:
    """The crawl ended (or its chatbot or source is being deleted): its reservation becomes
    the pages it indexed new or changed, and the rest goes back to the allowance. A page found
    unchanged spent the crawl's `max_pages` but is not indexed again, so it is not counted,
    whether the crawl is a re-sync or started by hand."""
    await repository.set_crawl_pages(session, job.id, job.pages_new + job.pages_changed)


def record_file_pages(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    run_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    pages: int,
) -> None:
    """A file-source run indexed `pages` new or changed pages: they count like crawled ones.
    Call it in the transaction that checked the room (`quota_status`) and wrote the pages."""
    if pages:
        _record_pages(
            session, workspace_id, chatbot_id, pages, repository.source_run_usage_key(run_id)
        )


def _record_pages(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    chatbot_id: uuid.UUID,
    pages: int,
    event_key: str,
) -> None:
    """One `pages` usage event, counted in the period it happens in."""
    repository.add_usage_event(
        session,
        UsageEvent(
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            kind=repository.PAGES_USAGE_KIND,
            quantity=pages,
            event_key=event_key,
            occurred_at=utcnow(),
        ),
    )


async def ensure_feature(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID, feature: str
) -> None:
    """402 `quota-exceeded` unless the workspace's plan lists `feature` (see `plans.FEATURES`)."""
    plan = effective_plan(plans, await repository.get_subscription(session, workspace_id))
    if feature in plan.features:
        return
    upgrade = plans.cheapest_with(feature)
    raise PaymentRequired(
        f"The {plan.name} plan does not include {FEATURES[feature]}.",
        extra={
            "feature": feature,
            "plan_id": plan.id,
            "upgrade_plan_id": upgrade.id if upgrade else None,
        },
    )


async def workspace_plan(
    session: AsyncSession, plans: PlanCatalog, workspace_id: uuid.UUID
) -> Plan:
    """The plan whose limits apply to the workspace now (no quota lock: for caps such as a
    file's size, not for counted usage)."""
    return effective_plan(plans, await repository.get_subscription(session, workspace_id))
