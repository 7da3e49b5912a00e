"""Retrieval testing ("hit testing"): `POST /v1/chatbots/{id}/search`."""

from __future__ import annotations

import uuid
from typing import Any

from sitechat.auth.dependencies import CallerDep
from sitechat.core.db import SessionDep
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import api_router, rate_limit_class
from sitechat.knowledge import service
from sitechat.knowledge.dependencies import DenseDep
from sitechat.knowledge.schemas import SearchHit, SearchRequest, SearchResults

router = api_router(prefix="/chatbots", tags=["knowledge"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such chatbot in this workspace."}
}


@router.post(
    "/{chatbot_id}/search",
    response_model=SearchResults,
    responses=NOT_FOUND,
    # It reads: limited like the other reads, not like writes.
    openapi_extra=rate_limit_class(RouteClass.READ),
)
async def search_chatbot(
    session: SessionDep,
    caller: CallerDep,
    dense: DenseDep,
    chatbot_id: uuid.UUID,
    body: SearchRequest,
) -> object:
    """The passages the chatbot would answer `query` from, best first, exactly as a chat
    message retrieves them: full-text BM25 (identifiers and rare words), fused with semantic
    search when embeddings are on, at most two passages per page. Each passage says which
    rankings found it and where (`"rankings": {"lexical": 3, "semantic": 1}`), so a customer
    can see why a page is or is not found. Works in any chatbot status; nothing is stored and
    no message is counted. `searched_as` is the query as retrieval read it (misspellings in
    the sources' spelling)."""
    retrieved = await service.search(session, caller, chatbot_id, body.query, body.limit, dense)
    return SearchResults(
        items=[SearchHit.of(passage) for passage in retrieved.passages],
        searched_as=retrieved.query,
    )
