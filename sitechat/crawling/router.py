"""Crawls, the pages they found and their progress stream."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request, Response, status
from fastapi.responses import StreamingResponse

from sitechat.auth.dependencies import AdminDep, CallerDep
from sitechat.billing.dependencies import PlansDep
from sitechat.config import Settings
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.pagination import DEFAULT_LIMIT, CursorPage, CursorParam, LimitParam
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import api_router, rate_limit_class
from sitechat.core.state import app_state
from sitechat.crawling import service
from sitechat.crawling.events import StreamTiming, progress_events
from sitechat.crawling.schemas import CrawlCreate, CrawlPageRead, CrawlRead, PageRead
from sitechat.models.crawling import PageOutcome

router = api_router(tags=["crawling"])

CRAWL_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such crawl in this workspace."}
}


def _settings(request: Request) -> Settings:
    return app_state(request).settings


@router.post(
    "/chatbots/{chatbot_id}/crawls",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CrawlRead,
    openapi_extra=rate_limit_class(RouteClass.CRAWL_START),
    responses={
        200: {"description": "The crawl an earlier request with this idempotency key started."},
        402: {
            "description": "`quota-exceeded`: the month's pages are spent (`limit: "
            "pages_per_month`), or `max_pages` is above the plan's `crawl_max_pages` (`limit: "
            "crawl_max_pages`, the field in `errors`); `upgrade_plan_id` names a plan that "
            "allows it."
        },
        404: {"description": "No such chatbot in this workspace."},
        409: {
            "description": "`crawl-in-progress` (with `running_crawl_id`), or "
            "`invalid-state-transition` for a paused or archived chatbot."
        },
        422: {"description": "`unsafe-url` (with `reason`) or `validation-error`."},
    },
)
async def start_crawl(
    request: Request,
    response: Response,
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    caller: AdminDep,
    chatbot_id: uuid.UUID,
    body: CrawlCreate,
) -> object:
    """Queue a crawl of the site at `url`; the chatbot goes to `training` until it ends.

    URLs that could reach private, loopback or metadata addresses, other schemes, and URLs
    with credentials are refused. Crawls of one workspace run one at a time (others wait
    their turn, in order); a chatbot has at most one queued or running crawl. Needs the admin
    role."""
    job, created = await service.start_crawl(
        session, jobs, plans, caller, _settings(request).crawl, chatbot_id, body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


@router.get(
    "/chatbots/{chatbot_id}/crawls",
    response_model=CursorPage[CrawlRead],
    responses={404: {"description": "No such chatbot in this workspace."}},
)
async def list_crawls(
    session: SessionDep,
    caller: CallerDep,
    chatbot_id: uuid.UUID,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> object:
    """The chatbot's crawls, newest first."""
    items, next_cursor = await service.list_crawls(
        session, caller, chatbot_id, cursor=cursor, limit=limit
    )
    return CursorPage[CrawlRead](
        items=[CrawlRead.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.get("/crawls/{crawl_id}", response_model=CrawlRead, responses=CRAWL_NOT_FOUND)
async def get_crawl(session: SessionDep, caller: CallerDep, crawl_id: uuid.UUID) -> object:
    """One crawl: status, counts, times, stop reason and last error."""
    return await service.get_crawl(session, caller, crawl_id)


@router.get(
    "/crawls/{crawl_id}/pages", response_model=CursorPage[CrawlPageRead], responses=CRAWL_NOT_FOUND
)
async def list_crawl_pages(
    session: SessionDep,
    caller: CallerDep,
    crawl_id: uuid.UUID,
    outcome: Annotated[PageOutcome | None, Query()] = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> object:
    """Every URL the crawl handled, newest first: indexed, unchanged, skipped or failed (with
    the reason), optionally only one `outcome`."""
    items, next_cursor = await service.list_crawl_pages(
        session, caller, crawl_id, outcome=outcome, cursor=cursor, limit=limit
    )
    return CursorPage[CrawlPageRead](
        items=[CrawlPageRead.model_validate(item) for item in items], next_cursor=next_cursor
    )


@router.get(
    "/pages/{page_id}",
    response_model=PageRead,
    responses={404: {"description": "No such page in this workspace."}},
)
async def get_page(session: SessionDep, caller: CallerDep, page_id: uuid.UUID) -> object:
    """A stored page: the extracted text as Markdown, with title, URL and HTTP status."""
    return await service.get_page(session, caller, page_id)


@router.post(
    "/crawls/{crawl_id}/cancel",
    response_model=CrawlRead,
    responses={**CRAWL_NOT_FOUND, 409: {"description": "`crawl-not-active`: it already ended."}},
)
async def cancel_crawl(session: SessionDep, caller: AdminDep, crawl_id: uuid.UUID) -> object:
    """Cancel a crawl. A queued crawl is `cancelled` at once; a running one stops within a
    few seconds and keeps the pages it already indexed. Needs the admin role."""
    return await service.cancel_crawl(session, caller, crawl_id)


@router.post(
    "/crawls/{crawl_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CrawlRead,
    responses={
        **CRAWL_NOT_FOUND,
        402: {"description": "`quota-exceeded`: the month's pages are spent."},
        409: {"description": "`crawl-not-retryable` or `crawl-in-progress`."},
    },
)
async def retry_crawl(
    session: SessionDep,
    jobs: JobBufferDep,
    plans: PlansDep,
    caller: AdminDep,
    crawl_id: uuid.UUID,
) -> object:
    """Start a new crawl with the parameters of a failed or cancelled one. Needs the admin
    role."""
    return await service.retry_crawl(session, jobs, plans, caller, crawl_id)


@router.get(
    "/crawls/{crawl_id}/events",
    response_class=StreamingResponse,
    responses={
        **CRAWL_NOT_FOUND,
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: progress` with the counts (about every second while they "
            "change), `: ping` comments to keep the connection open, and a final `event: "
            "done` with the final status. Ends when the crawl ends (or after 30 minutes with "
            "`event: timeout`; reconnect).",
        },
    },
)
async def crawl_events(
    request: Request, session: SessionDep, caller: CallerDep, crawl_id: uuid.UUID
) -> StreamingResponse:
    """Follow a crawl's progress as server-sent events."""
    job = await service.get_crawl(session, caller, crawl_id)
    state = app_state(request)
    timing = state.component(StreamTiming)
    return StreamingResponse(
        progress_events(state.sessionmaker, job.id, timing),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
