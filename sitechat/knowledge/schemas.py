"""Retrieval testing: what `POST /v1/chatbots/{id}/search` takes and answers."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sitechat.knowledge.passages import Passage
from sitechat.knowledge.service import DEFAULT_TOP_K, MAX_QUESTION_CHARS, MAX_TOP_K

SNIPPET_CHARS = 300


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "How long do refunds take?", "limit": 5},
                {"query": "functools.lru_cache maxsize"},
            ]
        },
    )

    query: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description="The question, as a visitor would type it.",
    )
    limit: int = Field(
        default=DEFAULT_TOP_K,
        ge=1,
        le=MAX_TOP_K,
        description="How many passages (at most two per page, as an answer gets them).",
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value


def snippet_of(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The passage's first `limit` characters, cut at a word, with an ellipsis if cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + "\u2026"


class SearchHit(BaseModel):
    chunk_id: uuid.UUID
    source_id: uuid.UUID
    url: str | None = Field(description="The page's URL; null for text and Q&A sources.")
    title: str
    heading: str = Field(description="Where on the page: its heading path (`Install > Linux`).")
    snippet: str = Field(description=f"The passage's first {SNIPPET_CHARS} characters.")
    content: str = Field(description="The whole passage, as an answer would receive it.")
    score: float = Field(
        description="Higher is better, comparable within one response only: the fused score "
        "(reciprocal rank fusion) when several rankings ran, else the BM25 score."
    )
    rankings: dict[str, int] = Field(
        description="The rankings that found the passage and its rank in each (1 = first): "
        "`lexical` (full-text BM25), `semantic` (embeddings, when on)."
    )

    @classmethod
    def of(cls, passage: Passage) -> SearchHit:
        return cls(
            chunk_id=passage.chunk_id,
            source_id=passage.source_id,
            url=passage.url,
            title=passage.title,
            heading=passage.heading,
            snippet=snippet_of(passage.text),
            content=passage.text,
            score=passage.score,
            rankings=dict(passage.rankings),
        )


class SearchResults(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "chunk_id": "01938f5e-7a1c-7b3e-9c2d-4e5f6a7b8c9d",
                            "source_id": "01938f5e-6b0a-7c1d-8e2f-3a4b5c6d7e8f",
                            "url": "https://shop.example/help/refunds",
                            "title": "Refunds",
                            "heading": "Refunds > How long it takes",
                            "snippet": "Refunds are issued within 14 days of purchase.",
                            "content": "Refunds are issued within 14 days of purchase.",
                            "score": 0.0325,
                            "rankings": {"lexical": 2, "semantic": 1},
                        }
                    ],
                    "searched_as": "How long do refunds take?",
                }
            ]
        }
    )

    items: list[SearchHit]
    searched_as: str = Field(
        description="The query as retrieval read it: a misspelt word in the spelling the "
        "chatbot's sources use (`hygenist` -> `hygienist`, `wifi` -> `wi-fi`), as a chat "
        "message is read."
    )
