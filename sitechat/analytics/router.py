"""Chatbot analytics and the conversation export: `/v1/chatbots/{id}/analytics`,
`/v1/chatbots/{id}/conversations/export.csv`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from sitechat.analytics import service
from sitechat.analytics.export import EXPORT_HEADER
from sitechat.analytics.schemas import (
    TOP_LIMIT_DEFAULT,
    TOP_LIMIT_MAX,
    AnalyticsRead,
    Interval,
)
from sitechat.auth.dependencies import CallerDep
from sitechat.core.csv_export import attachment, csv_stream
from sitechat.core.db import SessionDep
from sitechat.core.routing import api_router
from sitechat.core.state import app_state

router = api_router(prefix="/chatbots", tags=["analytics"])

FromParam = Annotated[
    date | None,
    Query(
        alias="from",
        description="First day counted (UTC, inclusive); default: 29 days before `to`.",
        openapi_examples={"december": {"value": "2026-12-01"}},
    ),
]
ToParam = Annotated[
    date | None,
    Query(
        alias="to",
        description="Last day counted (UTC, inclusive); default: today.",
        openapi_examples={"december": {"value": "2026-12-31"}},
    ),
]


@router.get(
    "/{chatbot_id}/analytics",
    response_model=AnalyticsRead,
    responses={
        404: {"description": "No such chatbot in this workspace."},
        422: {"description": "A bad date, `from` after `to`, or more than 366 days."},
    },
)
async def chatbot_analytics(
    chatbot_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    start: FromParam = None,
    end: ToParam = None,
    interval: Annotated[
        Interval, Query(description="Width of the `series` buckets (weeks start on Monday).")
    ] = "day",
    top: Annotated[
        int, Query(ge=1, le=TOP_LIMIT_MAX, description="Entries in each top list.")
    ] = TOP_LIMIT_DEFAULT,
) -> AnalyticsRead:
    """What visitors asked the chatbot in a period and how it answered: conversations,
    messages, answered vs fallback, feedback, leads, the median answer latency, a series per
    interval, the top questions, the **unanswered questions** (answered with the fallback:
    the content to write), and the most cited pages.

    Questions that mean the same to retrieval are grouped: the same stemmed content terms
    (`terms`), so "How do I reset my password?" and "password reset" are one group.
    """
    return await service.chatbot_analytics(
        session,
        caller,
        chatbot_id,
        start=start,
        end=end,
        interval=interval,
        top=top,
    )


@router.get(
    "/{chatbot_id}/conversations/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/csv": {
                    "example": ",".join(EXPORT_HEADER)
                    + "\r\n0193f4c1-...,2026-12-01T10:00:00+00:00,widget,active,Refunds,"
                    "0193f4c1-...,2026-12-01T10:00:05+00:00,user,complete,Can I get a refund?"
                    ",False,,,,\r\n"
                    "0193f4c1-...,2026-12-01T10:00:00+00:00,widget,active,Refunds,"
                    "0193f4c1-...,2026-12-01T10:00:06+00:00,assistant,complete,"
                    '"Refunds are paid within 14 days [1]. Keep the receipt [2].",False,412,'
                    'https://shop.example.com/refunds#policy,up,"[1] Refunds '
                    "<https://shop.example.com/refunds#policy>\n[2] Refund policy "
                    '<text source 0193f4c2-...>"\r\n'
                }
            },
            "description": "One line per message of every conversation started in the period, "
            "conversation by conversation, in order; UTF-8 with a byte-order mark.",
        },
        404: {"description": "No such chatbot in this workspace."},
    },
)
async def export_conversations(
    chatbot_id: uuid.UUID,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    start: FromParam = None,
    end: ToParam = None,
) -> StreamingResponse:
    """The conversations started in a period (default: the last 30 days) with their messages,
    as CSV: transcripts, fallbacks, latencies, cited URLs, feedback and citations.

    `citations` names every source an answer cites, one per line in its `[n]` order, as
    `[n] Title <where>`: the URL when the page has one, else what identifies the source
    (`text source <id>`, `Q&A source <id>`, `file "handbook.pdf", source <id>`, or
    `source <id>, deleted`). `cited_urls` lists the URLs alone, space-separated.
    """
    period = await service.export_period(session, caller, chatbot_id, start, end)
    return StreamingResponse(
        csv_stream(EXPORT_HEADER, service.export_batches(app_state(request).sessionmaker, period)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"conversations-{chatbot_id}.csv"),
    )
