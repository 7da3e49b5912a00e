"""Soak: several API processes and a worker under concurrent users for a fixed time; then the
books must balance."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from tests.crawling.conftest import LocalSite
from tests.faults.conftest import Processes, base_env, pages_site
from tests.faults.flows import (
    ACTIVE_CRAWL_STATUSES,
    add_text_source,
    ask,
    create_chatbot,
    get_crawl,
    start_conversation,
    start_crawl,
    wait_for_crawl,
)
from tests.fixtures.accounts import Account, register

REDIS_URL = "redis://127.0.0.1:6379/0"
USERS = 6
SOAK_SECONDS = 25.0
REQUEST_TIMEOUT_SECONDS = 15.0
CRAWL_END_BOUND_SECONDS = 30.0
QUESTIONS = ("When is the shop open?", "Is it open on Sundays?", "What about Saturdays?")


@dataclass
class UserRun:
    """What one simulated user did, and every status the API answered it."""

    account: Account
    conversation_id: str = ""
    answered: list[str] = field(default_factory=list)  # ids of the assistant messages
    crawls: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def saw(self, response: httpx.Response) -> httpx.Response:
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{response.request.url.path}: {response.text[:300]}")
        return response


async def _owner_post(http: httpx.AsyncClient, run: UserRun, path: str, body: Any) -> Any:
    response = run.saw(await http.post(path, json=body, headers=run.account.headers))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _use_the_product(http: httpx.AsyncClient, site_url: str, deadline: float) -> UserRun:
    """Register, subscribe to starter, train two chatbots (text; crawl), chat until the
    deadline, upgrading to pro halfway and re-crawling whenever the last crawl ended."""
    run = UserRun(account=await register(http))
    await _owner_post(http, run, "/v1/billing/payment-methods", {"payment_method": "pm_card_visa"})
    await _owner_post(
        http, run, "/v1/billing/subscription", {"plan_id": "starter", "interval": "month"}
    )
    chat_bot = await create_chatbot(http, run.account, "Shop")
    await add_text_source(http, run.account, chat_bot)
    run.conversation_id = await start_conversation(http, run.account, chat_bot)
    crawl_bot = await create_chatbot(http, run.account, "Docs")
    run.crawls.append(await start_crawl(http, run.account, crawl_bot, site_url))
    upgrade_at = deadline - SOAK_SECONDS / 2
    upgraded = False
    turn = 0
    while time.monotonic() < deadline:
        response = run.saw(
            await ask(http, run.account, run.conversation_id, QUESTIONS[turn % len(QUESTIONS)])
        )
        if response.status_code == 201:
            run.answered.append(response.json()["id"])
        turn += 1
        if not upgraded and time.monotonic() > upgrade_at:
            await _owner_post(
                http, run, "/v1/billing/subscription", {"plan_id": "pro", "interval": "month"}
            )
            upgraded = True
        if turn % 10 == 0:
            crawl = await get_crawl(http, run.account, run.crawls[-1])
            if crawl["status"] not in ACTIVE_CRAWL_STATUSES:
                run.crawls.append(await start_crawl(http, run.account, crawl_bot, site_url))
    assert upgraded
    return run


async def _get(http: httpx.AsyncClient, run: UserRun, path: str, **params: str) -> Any:
    response = run.saw(await http.get(path, params=params, headers=run.account.headers))
    assert response.status_code == 200, response.text
    return response.json()


async def _all_items(http: httpx.AsyncClient, run: UserRun, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await _get(http, run, path, limit="100", **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


async def test_concurrent_users_leave_consistent_books(
    processes: Processes, site: LocalSite, database_url: str
) -> None:
    """Two API processes (uvicorn --workers 2) and one `sitechat worker` on one PostgreSQL,
    Redis rate limiting on (generous limits), six users registering, subscribing, crawling a
    local site, chatting and upgrading for 25 s. Must hold afterwards: no response was a 5xx;
    every answered question (201) has its assistant message stored; each workspace's usage
    counter of messages equals the answers it got; every invoice's lines add up to its
    subtotal and its total is subtotal plus tax; every crawl ended in a terminal state."""
    if not _redis_available():
        pytest.skip("the soak needs Redis at 127.0.0.1:6379")
    pages_site(site, 6)
    limits = {
        f"SITECHAT_RATELIMIT_{name}": "100000/minute"
        for name in ("AUTH", "READ", "WRITE", "CHAT", "CRAWL_START", "PUBLIC_WIDGET")
    }
    env = base_env(
        database_url,
        REDIS_URL=REDIS_URL,
        SITECHAT_RATELIMIT_ENABLED="true",
        SITECHAT_RATELIMIT_KEY_PREFIX=f"soak-{secrets.token_hex(4)}",
        **limits,
    )
    api = processes.api(env, workers=2)
    processes.worker(env, concurrency=4)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        deadline = time.monotonic() + SOAK_SECONDS
        runs = await asyncio.gather(
            *(_use_the_product(http, site.url("/"), deadline) for _ in range(USERS))
        )
        crawls = [
            await wait_for_crawl(http, run.account, crawl_id, seconds=CRAWL_END_BOUND_SECONDS)
            for run in runs
            for crawl_id in run.crawls
        ]
        checks = [await _books_of(http, run) for run in runs]

    assert [error for run in runs for error in run.server_errors] == []
    assert sum(len(run.answered) for run in runs) > USERS * 10, "the soak must carry load"
    assert {crawl["status"] for crawl in crawls} <= {"completed", "failed", "cancelled"}
    assert all(crawl["status"] == "completed" for crawl in crawls), crawls
    for run, books in zip(runs, checks, strict=True):
        assert books.missing_answers == [], run.account.email
        assert books.usage_messages == len(run.answered), run.account.email
        assert books.plan_id == "pro"
        assert books.invoice_count >= 2
        assert books.unbalanced_invoices == [], books.unbalanced_invoices


@dataclass(frozen=True)
class Books:
    missing_answers: list[str]
    usage_messages: int
    plan_id: str
    invoice_count: int
    unbalanced_invoices: list[dict[str, Any]]


async def _books_of(http: httpx.AsyncClient, run: UserRun) -> Books:
    messages = await _all_items(http, run, f"/v1/conversations/{run.conversation_id}/messages")
    stored = {message["id"] for message in messages if message["role"] == "assistant"}
    usage = await _get(http, run, "/v1/billing/usage")
    subscription = await _get(http, run, "/v1/billing/subscription")
    invoices = await _all_items(http, run, "/v1/billing/invoices")
    unbalanced: list[dict[str, Any]] = []
    for summary in invoices:
        invoice = await _get(http, run, f"/v1/billing/invoices/{summary['id']}")
        lines_total = sum(line["amount"] for line in invoice["lines"])
        if lines_total != invoice["subtotal"] or invoice["total"] != (
            invoice["subtotal"] + invoice["tax"]
        ):
            unbalanced.append(invoice)
    return Books(
        missing_answers=[answer for answer in run.answered if answer not in stored],
        usage_messages=usage["usage"]["messages"],
        plan_id=subscription["plan_id"],
        invoice_count=len(invoices),
        unbalanced_invoices=unbalanced,
    )
