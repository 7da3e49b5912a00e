"""Webhook endpoints, the events that become deliveries, and each delivery attempt's outcome.

An event becomes one `webhook_deliveries` row per subscribed endpoint, in the transaction of
the change that caused it: it exists only if that change commits. A job (`webhooks.deliver`)
makes the first attempt right after the commit; failed attempts are retried on the schedule
below by the periodic `webhooks.sweep`, which also picks up any delivery whose job was lost.
A delivery that fails for about a day disables its endpoint, and the workspace's owners are
told (audit event and mail).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.audit.service import record_audit_event
from sitechat.auth.caller import Caller
from sitechat.core.clock import utcnow
from sitechat.core.errors import NotFound
from sitechat.core.pagination import decode_cursor, next_cursor_of
from sitechat.core.ssrf import UnsafeUrlError, check_url_syntax
from sitechat.models.base import new_id
from sitechat.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from sitechat.webhooks import repository
from sitechat.webhooks.errors import TooManyWebhooks, UnsafeWebhookUrl
from sitechat.webhooks.schemas import MAX_ENDPOINTS_PER_WORKSPACE, WebhookCreate, WebhookUpdate
from sitechat.webhooks.sender import SendOutcome
from sitechat.webhooks.signing import new_secret
from sitechat.worker.buffer import JobBuffer

log = structlog.get_logger()

DELIVER_TASK = "webhooks.deliver"
# Waits after the 1st, 2nd... failed attempt: seven attempts over about 21 hours.
RETRY_DELAYS = tuple(
    timedelta(seconds=seconds) for seconds in (60, 300, 1_800, 7_200, 21_600, 43_200)
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# An attempt in flight holds its delivery this long; a worker that died mid-attempt is retried.
ATTEMPT_LEASE = timedelta(seconds=60)


def deliver_lock_of(delivery_id: uuid.UUID) -> str:
    return f"webhook-delivery:{delivery_id}"


def request_delivery(jobs: JobBuffer, delivery_ids: list[uuid.UUID]) -> None:
    for delivery_id in delivery_ids:
        jobs.defer(
            DELIVER_TASK,
            queueing_lock=deliver_lock_of(delivery_id),
            delivery_id=str(delivery_id),
        )


# -- endpoints ---------------------------------------------------------------------------------


def _checked_url(url: str, allowed_hosts: frozenset[str]) -> str:
    try:
        check_url_syntax(url, allowed_hosts)
    except UnsafeUrlError as error:
        raise UnsafeWebhookUrl(error.reason, error.detail) from None
    return url


async def create_endpoint(
    session: AsyncSession, caller: Caller, body: WebhookCreate, allowed_hosts: frozenset[str]
) -> WebhookEndpoint:
    if await repository.count_endpoints(session, caller.workspace_id) >= (
        MAX_ENDPOINTS_PER_WORKSPACE
    ):
        raise TooManyWebhooks(MAX_ENDPOINTS_PER_WORKSPACE)
    endpoint = WebhookEndpoint(
        workspace_id=caller.workspace_id,
        url=_checked_url(body.url, allowed_hosts),
        description=body.description,
        event_types=sorted(set(body.event_types)),
        enabled=body.enabled,
        secret=new_secret(),
    )
    session.add(endpoint)
    await session.flush()
    record_audit_event(
        session,
        action="webhook.created",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"webhook_id": str(endpoint.id), "url": endpoint.url},
    )
    return endpoint


async def get_endpoint(
    session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, caller.workspace_id, endpoint_id)
    if endpoint is None:
        raise NotFound("Webhook")
    return endpoint


async def list_endpoints(session: AsyncSession, caller: Caller) -> list[WebhookEndpoint]:
    return await repository.list_endpoints(session, caller.workspace_id)


async def update_endpoint(
    session: AsyncSession,
    caller: Caller,
    endpoint_id: uuid.UUID,
    body: WebhookUpdate,
    allowed_hosts: frozenset[str],
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, caller, endpoint_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        endpoint.url = _checked_url(changes["url"], allowed_hosts)
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = sorted(set(changes["event_types"]))
    if "enabled" in changes:
        endpoint.enabled = changes["enabled"]
        if endpoint.enabled:
            endpoint.disabled_reason = None
    await session.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, overlap: timedelta
) -> WebhookEndpoint:
    """A new signing secret, effective for every attempt from now on. For `overlap` the secret
    it replaces signs beside it, so a receiver not yet given the new one still verifies; a
    secret replaced by an earlier rotation whose overlap is still running stops at once (one
    previous secret at most: the receiver moves to the newest)."""
    endpoint = await _locked_endpoint(session, caller, endpoint_id)
    now = utcnow()
    if overlap > timedelta(0):
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret = new_secret()
    await session.flush()
    record_audit_event(
        session,
        action="webhook.secret_rotated",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={
            "webhook_id": str(endpoint.id),
            "overlap_seconds": int(overlap.total_seconds()),
        },
    )
    return endpoint


async def end_overlap(session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID) -> None:
    """Stop signing with the previous secret now (it leaked, or every receiver moved on).
    An endpoint with no overlap running is left as it is."""
    endpoint = await _locked_endpoint(session, caller, endpoint_id)
    if endpoint.previous_secret is None:
        return
    endpoint.previous_secret = None
    endpoint.previous_secret_expires_at = None
    await session.flush()
    record_audit_event(
        session,
        action="webhook.previous_secret_revoked",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"webhook_id": str(endpoint.id)},
    )


async def _locked_endpoint(
    session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """The endpoint, locked: two rotations at once must not both replace the same secret."""
    endpoint = await repository.get_endpoint(
        session, caller.workspace_id, endpoint_id, for_update=True
    )
    if endpoint is None:
        raise NotFound("Webhook")
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    """The secrets a delivery attempted at `now` is signed with: the current one, then the
    previous one while its overlap runs."""
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is None or expires_at is None or expires_at <= now:
        return (endpoint.secret,)
    return (endpoint.secret, endpoint.previous_secret)


async def delete_endpoint(session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID) -> None:
    endpoint = await get_endpoint(session, caller, endpoint_id)
    await session.delete(endpoint)
    record_audit_event(
        session,
        action="webhook.deleted",
        workspace_id=caller.workspace_id,
        actor_user_id=caller.user_id,
        actor_api_key_id=caller.api_key_id,
        details={"webhook_id": str(endpoint_id)},
    )


# -- deliveries --------------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession, caller: Caller, endpoint_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[WebhookDelivery], str | None]:
    endpoint = await get_endpoint(session, caller, endpoint_id)
    rows = await repository.list_deliveries(
        session, caller.workspace_id, endpoint.id, decode_cursor(cursor), limit
    )
    return rows[:limit], next_cursor_of([row.id for row in rows], limit)


async def redeliver(
    session: AsyncSession,
    jobs: JobBuffer,
    caller: Caller,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> WebhookDelivery:
    """Send an earlier delivery's event again, as a new delivery with the same `webhook-id`."""
    original = await repository.get_delivery(session, caller.workspace_id, endpoint_id, delivery_id)
    if original is None:
        raise NotFound("Delivery")
    now = utcnow()
    copy = WebhookDelivery(
        id=new_id(),
        workspace_id=original.workspace_id,
        endpoint_id=original.endpoint_id,
        message_id=original.message_id,
        event_type=original.event_type,
        payload=original.payload,
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(copy)
    await session.flush()
    request_delivery(jobs, [copy.id])
    return copy


async def emit(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    event_type: str,
    data: dict[str, Any],
    jobs: JobBuffer | None = None,
) -> list[uuid.UUID]:
    """Record `event_type` for every subscribed endpoint of the workspace, in this transaction.

    With `jobs` (a request), the first attempts are sent right after the commit; without (a job
    or an answer's own transaction), the caller defers them after its commit
    (`defer_deliveries`), or the sweep finds them within a minute.
    """
    endpoints = await repository.subscribed_endpoints(session, workspace_id, event_type)
    if not endpoints:
        return []
    now = utcnow()
    message_id = f"msg_{new_id().hex}"
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    ids = [new_id() for _ in endpoints]
    rows = [
        {
            "id": delivery_id,
            "workspace_id": workspace_id,
            "endpoint_id": endpoint_id,
            "message_id": message_id,
            "event_type": event_type,
            "payload": payload,
            "status": DeliveryStatus.pending,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for delivery_id, (endpoint_id,) in zip(ids, endpoints, strict=True)
    ]
    await repository.insert_deliveries(session, rows)
    if jobs is not None:
        request_delivery(jobs, ids)
    log.info("webhooks.event_recorded", event_type=event_type, deliveries=len(ids))
    return ids


@dataclass(frozen=True)
class Attempt:
    """A delivery claimed for one attempt: what to send and where."""

    delivery_id: uuid.UUID
    workspace_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]  # the current secret first
    message_id: str
    payload: dict[str, Any]


async def claim_attempt(
    session: AsyncSession, delivery_id: uuid.UUID, now: datetime
) -> Attempt | None:
    """Take a due delivery for one attempt (None: not due, done, or held by another worker)."""
    claimed = await repository.claim_delivery(session, delivery_id, now)
    if claimed is None:
        return None
    delivery, endpoint = claimed
    if not endpoint.enabled:
        return None  # it stays pending; enabling the endpoint again lets the sweep send it
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + ATTEMPT_LEASE
    return Attempt(
        delivery_id=delivery.id,
        workspace_id=delivery.workspace_id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        secrets=signing_secrets(endpoint, now),
        message_id=delivery.message_id,
        payload=delivery.payload,
    )


async def record_outcome(
    session: AsyncSession, attempt: Attempt, outcome: SendOutcome, now: datetime
) -> list[str]:
    """Store an attempt's outcome and schedule the next one; returns the owners to tell when the
    endpoint was disabled by it."""
    delivery = await repository.lock_delivery(session, attempt.delivery_id)
    if delivery is None:
        return []  # the endpoint was deleted meanwhile
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.last_latency_ms = outcome.latency_ms
    delivery.last_response = outcome.response_excerpt
    if outcome.succeeded:
        delivery.status = DeliveryStatus.succeeded
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        return []
    if delivery.attempts < MAX_ATTEMPTS:
        delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
        return []
    delivery.status = DeliveryStatus.failed
    delivery.next_attempt_at = None
    return await _disable_endpoint(session, attempt, outcome)


async def _disable_endpoint(
    session: AsyncSession, attempt: Attempt, outcome: SendOutcome
) -> list[str]:
    endpoint = await repository.get_endpoint(session, attempt.workspace_id, attempt.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return []
    endpoint.enabled = False
    endpoint.disabled_reason = (
        f"Every attempt of a delivery failed for a day (last: {outcome.error})."[:200]
    )
    record_audit_event(
        session,
        action="webhook.disabled",
        workspace_id=attempt.workspace_id,
        details={"webhook_id": str(endpoint.id), "last_error": outcome.error},
    )
    log.warning("webhooks.endpoint_disabled", webhook_id=str(endpoint.id), error=outcome.error)
    return await repository.owner_emails(session, attempt.workspace_id)


async def due_deliveries(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    return await repository.due_delivery_ids(session, now, limit)


async def erase_expired_secrets(session: AsyncSession, now: datetime) -> int:
    """Forget the previous secrets whose overlap has ended (they sign nothing any more)."""
    return await repository.erase_expired_previous_secrets(session, now)
