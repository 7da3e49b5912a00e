"""An answer run rendered as HTTP: one JSON body, or server-sent events.

Shared by the members' and the widget's message routes; the OpenAI-compatible route renders
the same events in OpenAI's wire format (`chat/openai_compat.py`), the WebSocket as JSON frames.
"""

from __future__ import annotations

import orjson
from fastapi import Request, status
from starlette.responses import Response

from sitechat.chat.answerer import AnswerError
from sitechat.chat.answering import AnswerRun
from sitechat.chat.schemas import AnswerRead, MessageCreate, message_fields
from sitechat.chat.streaming import DeferredResponse, EventStreamResponse, encode_sse
from sitechat.core.errors import problem_response, request_id_of


def wants_stream(request: Request, body: MessageCreate) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "")


def answer_response(request: Request, run: AnswerRun, *, stream: bool) -> Response:
    """The answer to a stored question, produced after the route has committed it."""
    if stream:
        return EventStreamResponse(encode_sse(run.events()))

    async def produce() -> Response:
        try:
            message = await run.outcome()
        except AnswerError as error:
            return problem_response(
                status=error.http_status,
                slug=error.code,
                detail=error.message,
                request_id=request_id_of(request),
            )
        body = AnswerRead(**message_fields(message), user_message_id=run.turn.user_message_id)
        return Response(
            orjson.dumps(body.model_dump(mode="json")),
            status_code=status.HTTP_201_CREATED,
            media_type="application/json",
        )

    return DeferredResponse(produce)
