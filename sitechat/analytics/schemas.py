"""Query parameters and response bodies of chatbot analytics."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Interval = Literal["day", "week", "month"]
MAX_PERIOD_DAYS = 366
TOP_LIMIT_DEFAULT = 10
TOP_LIMIT_MAX = 50


class AnalyticsTotals(BaseModel):
    conversations: int = Field(description="Conversations started in the period.", examples=[42])
    messages: int = Field(description="Every message: questions, answers, agent replies.")
    questions: int = Field(description="Questions asked (visitor or member messages).")
    answered: int = Field(description="Complete answers from the site's content.")
    fallback: int = Field(description="Complete answers that were the fallback message.")
    failed: int = Field(description="Answers that failed (model errors).")
    handoff_notices: int = Field(description="Questions met by the hand-off message.")
    agent_replies: int = Field(description="Replies written by people (hand-off).")
    feedback_up: int
    feedback_down: int
    leads: int = Field(description="Contacts left by visitors (lead capture).")
    median_answer_latency_ms: float | None = Field(
        description="Median time from a stored question to its stored answer; null without "
        "answers.",
        examples=[184.0],
    )


class AnalyticsBucket(BaseModel):
    start: date = Field(description="First day of the interval (UTC).")
    conversations: int
    questions: int
    answered: int
    fallback: int


class QuestionGroup(BaseModel):
    """Questions that mean the same thing to retrieval: the same stemmed content terms."""

    question: str = Field(description="The group's most recent phrasing.")
    terms: str = Field(description="The group's key: its stemmed terms, sorted.")
    count: int
    last_asked_at: datetime


class CitedPage(BaseModel):
    """One cited page: a crawled page, a file's page, or a text or Q&A source."""

    url: str | None = Field(
        description="Where the page was last cited (its section `#anchor`, a PDF's `#page=`); "
        "null for text and Q&A sources and uploaded files."
    )
    title: str = Field(description="The page's title when it was last cited.")
    source_id: uuid.UUID | None = Field(
        description="The source the page belongs to; null for citations stored before it was "
        "recorded."
    )
    citations: int


class AnalyticsRead(BaseModel):
    chatbot_id: uuid.UUID
    start: date = Field(description="`from`, the first day counted (UTC).")
    end: date = Field(description="`to`, the last day counted (UTC).")
    interval: Interval
    totals: AnalyticsTotals
    series: list[AnalyticsBucket] = Field(description="Every interval of the period, in order.")
    top_questions: list[QuestionGroup]
    unanswered_questions: list[QuestionGroup] = Field(
        description="Questions answered with the fallback message: the content gaps to write."
    )
    top_cited_pages: list[CitedPage]
