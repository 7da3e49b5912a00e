"""Outbound webhook endpoints of the workspace, their delivery log and redelivery:
`/v1/webhooks`. Every route needs the admin role (endpoints see the workspace's events)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import Request, Response, status

from sitechat.auth.dependencies import AdminDep
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import problem_responses
from sitechat.core.pagination import DEFAULT_LIMIT, CursorPage, CursorParam, LimitParam
from sitechat.core.routing import api_router
from sitechat.core.state import app_state
from sitechat.webhooks import service
from sitechat.webhooks.schemas import (
    DeliveryRead,
    SecretRotation,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = api_router(prefix="/webhooks", tags=["webhooks"])

NO_STORE = {"Cache-Control": "no-store"}
_NOT_FOUND: dict[int | str, dict[str, Any]] = problem_responses(401, 403, 404)


def _allowed_hosts(request: Request) -> frozenset[str]:
    return frozenset(app_state(request).settings.crawl.allowed_hosts)


def _with_secret(endpoint: object) -> WebhookWithSecret:
    read = WebhookRead.model_validate(endpoint)
    return WebhookWithSecret(**read.model_dump(), secret=endpoint.secret)  # type: ignore[attr-defined]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookWithSecret,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_webhook(
    body: WebhookCreate, request: Request, response: Response, caller: AdminDep, session: SessionDep
) -> WebhookWithSecret:
    """Add an endpoint. The response carries its signing secret, shown only this once.

    Deliveries are `POST`s of `{"type", "timestamp", "data"}` signed the Standard Webhooks way
    (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`); a 2xx
    answer within 10 s counts as delivered, anything else is retried for about a day.
    """
    endpoint = await service.create_endpoint(session, caller, body, _allowed_hosts(request))
    response.headers.update(NO_STORE)
    return _with_secret(endpoint)


@router.get("", response_model=CursorPage[WebhookRead], responses=problem_responses(401, 403))
async def list_webhooks(caller: AdminDep, session: SessionDep) -> CursorPage[WebhookRead]:
    """The workspace's endpoints, newest first (without their secrets)."""
    endpoints = await service.list_endpoints(session, caller)
    return CursorPage[WebhookRead](items=[WebhookRead.model_validate(e) for e in endpoints])


@router.get("/{webhook_id}", response_model=WebhookRead, responses=_NOT_FOUND)
async def get_webhook(webhook_id: uuid.UUID, caller: AdminDep, session: SessionDep) -> object:
    """One endpoint (without its secret)."""
    return await service.get_endpoint(session, caller, webhook_id)


@router.patch(
    "/{webhook_id}", response_model=WebhookRead, responses=problem_responses(401, 403, 404, 422)
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    request: Request,
    caller: AdminDep,
    session: SessionDep,
) -> object:
    """Change the URL, description, event types, or enable / disable the endpoint."""
    return await service.update_endpoint(session, caller, webhook_id, body, _allowed_hosts(request))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def delete_webhook(webhook_id: uuid.UUID, caller: AdminDep, session: SessionDep) -> None:
    """Remove the endpoint with its delivery log; pending deliveries are dropped."""
    await service.delete_endpoint(session, caller, webhook_id)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecret,
    responses=problem_responses(401, 403, 404, 422),
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID,
    response: Response,
    caller: AdminDep,
    session: SessionDep,
    body: SecretRotation | None = None,
) -> WebhookWithSecret:
    """A new signing secret, shown only this once. The secret it replaces keeps signing for
    `overlap_seconds` (default a day): until `previous_secret_expires_at` every delivery
    carries both signatures (`webhook-signature: v1,<new> v1,<previous>`), so receivers verify
    with either while the new secret is deployed; then only the new one signs.

    A secret that leaked: rotate with `{"overlap_seconds": 0}` (the current one), or end the
    overlap with `DELETE /v1/webhooks/{id}/previous-secret` (the previous one). Rotating again
    during an overlap stops the oldest secret at once.
    """
    rotation = body or SecretRotation()
    endpoint = await service.rotate_secret(
        session, caller, webhook_id, timedelta(seconds=rotation.overlap_seconds)
    )
    response.headers.update(NO_STORE)
    return _with_secret(endpoint)


@router.delete(
    "/{webhook_id}/previous-secret",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
async def end_webhook_secret_overlap(
    webhook_id: uuid.UUID, caller: AdminDep, session: SessionDep
) -> None:
    """End a rotation's overlap now: the previous secret stops signing deliveries at once (it
    leaked, or every receiver has the new one). Without an overlap running, nothing changes."""
    await service.end_overlap(session, caller, webhook_id)


@router.get(
    "/{webhook_id}/deliveries", response_model=CursorPage[DeliveryRead], responses=_NOT_FOUND
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    caller: AdminDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> CursorPage[DeliveryRead]:
    """The endpoint's delivery log, newest first: status, attempts, last response code,
    latency and error, and when the next attempt is due."""
    rows, next_cursor = await service.list_deliveries(session, caller, webhook_id, cursor, limit)
    return CursorPage[DeliveryRead](
        items=[DeliveryRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    responses=_NOT_FOUND,
)
async def redeliver_webhook_delivery(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    caller: AdminDep,
    session: SessionDep,
    jobs: JobBufferDep,
) -> object:
    """Send a delivery's event again (same `webhook-id`, so receivers can deduplicate)."""
    return await service.redeliver(session, jobs, caller, webhook_id, delivery_id)
