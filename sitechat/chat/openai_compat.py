"""`POST /v1/chat/completions`, `GET /v1/models` and `GET /v1/models/{model}` in OpenAI's wire
format.

`model` is `"chatbot:<id>"`. The last user message is the question, earlier user/assistant
messages are the history; system messages are ignored (the chatbot's own instructions apply).
Every completion is stored as a conversation of its own, so it appears in the chatbot's
history and counts as a message. Citations ride along in the extension field `sitechat`
(`{"citations": [...], "conversation_id": ...}`), which the official SDKs keep on the object.
`max_tokens` (or `max_completion_tokens`) cuts the answer between words after that many tokens
as `usage` counts them (`chat/token_limit.py`; `finish_reason: "length"`, the citations whose
markers were cut dropped, `usage` of what was returned). A model (`chat/llm.py`) is sent the
lower of it and the chatbot's own cap as its `max_tokens`, so it stops writing there; its own
stop at that limit is `finish_reason: "length"` too, and the cut stays as a safety net.
`usage` counts tokens: the model's own counts, or, for the extractive answerer (which has no
tokenizer) and for a model that reports none, an estimate of what was read (question and
passages, or the prompt) and written.
Errors leave in OpenAI's envelope (`{"error": {"message", "type", "code"}}`, made from the
problem by `chat/openai_errors.py`), so the SDKs show the message.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from fastapi import Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.responses import Response

from sitechat.auth.dependencies import CallerDep
from sitechat.billing.dependencies import PlansDep
from sitechat.billing.usage import ensure_feature
from sitechat.chat import answering, service
from sitechat.chat.answerer import AnswerError, Turn
from sitechat.chat.answering import AnswerRun
from sitechat.chat.dependencies import ChatRuntimeDep
from sitechat.chat.errors import ModelNotFound
from sitechat.chat.openai_schemas import (
    COMPLETION_RESPONSES,
    OpenAIModel,
    OpenAIModelList,
    error_responses,
)
from sitechat.chat.schemas import MAX_QUESTION_CHARS, public_citation
from sitechat.chat.service import Scope
from sitechat.chat.streaming import DeferredResponse, EventStreamResponse
from sitechat.core.db import JobBufferDep, SessionDep
from sitechat.core.errors import UnprocessableEntity, problem_response, request_id_of
from sitechat.core.ratelimit import RouteClass
from sitechat.core.routing import api_router, rate_limit_class
from sitechat.knowledge.dependencies import DenseDep
from sitechat.models.chat import ConversationChannel, Message
from sitechat.models.chatbots import Chatbot

router = api_router(tags=["openai compatible"])

MODEL_PREFIX = "chatbot:"
MAX_MESSAGES = 100


class ChatMessageIn(BaseModel):
    # OpenAI clients send fields we have no use for (name, tool calls...): ignore them rather
    # than break the SDKs.
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(part.get("text", "")) for part in parts if part.get("type") == "text")


class ChatCompletionCreate(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "model": "chatbot:01936f0e-8c1b-7d6a-9f3e-2b4c5d6e7f80",
                    "messages": [{"role": "user", "content": "How long do refunds take?"}],
                    "stream": False,
                }
            ]
        },
    )

    model: str = Field(max_length=100, examples=["chatbot:01936f0e-8c1b-7d6a-9f3e-2b4c5d6e7f80"])
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool = False
    stream_options: dict[str, Any] | None = None
    # One answer per question: a request for more choices is refused, not answered with one.
    n: int = Field(1, ge=1, le=1, description="How many choices: only 1 is generated.")
    # Strict: "3" is refused, as OpenAI refuses it, rather than read as 3.
    max_tokens: StrictInt | None = Field(
        None,
        ge=1,
        description="Cut the answer after this many tokens, between words "
        '(`finish_reason: "length"`). Tokens are counted as `usage` counts them; a model '
        "answering is asked for no more (the lower of this and the chatbot's own cap).",
    )
    max_completion_tokens: StrictInt | None = Field(
        None, ge=1, description="The same as `max_tokens` (the smaller applies when both are set)."
    )

    def token_limit(self) -> int | None:
        limits = [v for v in (self.max_tokens, self.max_completion_tokens) if v is not None]
        return min(limits, default=None)


def _chatbot_id(model: str) -> uuid.UUID:
    if not model.startswith(MODEL_PREFIX):
        raise ModelNotFound()
    try:
        return uuid.UUID(model.removeprefix(MODEL_PREFIX))
    except ValueError:
        raise ModelNotFound() from None


def _question_and_history(messages: list[ChatMessageIn]) -> tuple[str, list[Turn]]:
    last = messages[-1]
    question = last.text().strip()
    if last.role != "user" or not question:
        raise UnprocessableEntity("The last message must be a non-empty user message.")
    if len(question) > MAX_QUESTION_CHARS:
        raise UnprocessableEntity(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
    history = [
        Turn(role="user" if message.role == "user" else "assistant", content=message.text())
        for message in messages[:-1]
        if message.role in ("user", "assistant") and message.text()
    ]
    return question, history


def _usage(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int]:
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _json(payload: dict[str, Any], status_code: int = status.HTTP_200_OK) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _chunk(completion_id: str, model: str, created: int, **fields: Any) -> bytes:
    payload = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        **fields,
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _completion_chunks(
    run: AnswerRun, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    turn = run.turn
    completion_id = f"chatcmpl-{turn.assistant_message_id.hex}"
    created = int(time.time())
    citations: list[dict[str, Any]] = []

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "finish_reason": finish_reason}]

    yield _chunk(
        completion_id, model, created, choices=choice({"role": "assistant", "content": ""})
    )
    events = run.events()
    async with contextlib.aclosing(events):
        async for event in events:
            if event.type == "ping":
                yield b": ping\n\n"
            elif event.type == "delta":
                yield _chunk(
                    completion_id, model, created, choices=choice({"content": event.data["text"]})
                )
            elif event.type == "citations":
                citations = event.data["citations"]
            elif event.type == "error":
                yield (
                    b"data: "
                    + orjson.dumps({"error": {**event.data, "type": "server_error"}})
                    + b"\n\n"
                )
            elif event.type == "done":
                extension = {"citations": citations, "conversation_id": str(turn.conversation_id)}
                yield _chunk(
                    completion_id,
                    model,
                    created,
                    choices=choice({}, _finish_reason(cut=event.cut)),
                    sitechat=extension,
                )
                if include_usage:
                    usage = event.data["usage"]
                    yield _chunk(
                        completion_id,
                        model,
                        created,
                        choices=[],
                        usage=_usage(usage["prompt_tokens"], usage["completion_tokens"]),
                    )
    yield b"data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    responses=COMPLETION_RESPONSES,
    openapi_extra=rate_limit_class(RouteClass.CHAT),
)
async def create_chat_completion(
    body: ChatCompletionCreate,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    runtime: ChatRuntimeDep,
    plans: PlansDep,
    dense: DenseDep,
    jobs: JobBufferDep,
) -> Response:
    """OpenAI-compatible chat completion answered by a chatbot (`model: "chatbot:<id>"`).

    On plans with the `openai_compatible_api` feature; others get 402 `quota-exceeded`.
    `max_tokens` / `max_completion_tokens` cut the answer (`finish_reason: "length"`), and a
    model answering is asked for no more than the lower of it and the chatbot's own cap; `n`
    must be 1. Other OpenAI parameters the SDKs send (`temperature`, `top_p`, `tools`,
    `tool_choice`, `response_format`, `user`...) are accepted and ignored: the chatbot's own
    settings apply, and it answers in text only. Errors are OpenAI's envelope
    (`{"error": {...}}`, `application/json`).
    """
    await ensure_feature(session, plans, caller.workspace_id, "openai_compatible_api")
    chatbot = await service.get_model_chatbot(
        session, Scope.workspace(caller.workspace_id), _chatbot_id(body.model), archived=True
    )
    question, history = _question_and_history(body.messages)
    conversation = await service.start_conversation(
        session, chatbot, channel=ConversationChannel.openai, user_id=caller.user_id, jobs=jobs
    )
    run = await answering.ask(
        session,
        conversation,
        question,
        runtime,
        plans=plans,
        dense=dense,
        history=history,
        max_tokens=body.token_limit(),
    )
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return EventStreamResponse(_completion_chunks(run, body.model, include_usage))
    return DeferredResponse(lambda: _completion(request, run, body.model))


async def _completion(request: Request, run: AnswerRun, model: str) -> Response:
    """The whole answer as one `chat.completion` (or the problem that stopped it)."""
    try:
        message, cut = await run.finished()
    except AnswerError as error:
        return problem_response(
            status=error.http_status,
            slug=error.code,
            detail=error.message,
            request_id=request_id_of(request),
        )
    return _json(_completion_body(message, run, model, cut=cut))


def _finish_reason(*, cut: bool) -> str:
    return "length" if cut else "stop"


def _completion_body(message: Message, run: AnswerRun, model: str, *, cut: bool) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{message.id.hex}",
        "object": "chat.completion",
        "created": int(message.created_at.timestamp()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message.content},
                "finish_reason": _finish_reason(cut=cut),
            }
        ],
        "usage": _usage(message.prompt_tokens, message.completion_tokens),
        "sitechat": {
            "citations": [public_citation(c) for c in message.citations],
            "conversation_id": str(run.turn.conversation_id),
        },
    }


def _model(chatbot: Chatbot) -> dict[str, Any]:
    return {
        "id": f"{MODEL_PREFIX}{chatbot.id}",
        "object": "model",
        "created": int(chatbot.created_at.timestamp()),
        "owned_by": "sitechat",
    }


@router.get("/models", response_model=OpenAIModelList, responses=error_responses())
async def list_models(caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """The workspace's chatbots as OpenAI models (`id` is what `model` takes)."""
    chatbots = await service.list_chatbots(session, Scope.workspace(caller.workspace_id))
    return {"object": "list", "data": [_model(chatbot) for chatbot in chatbots]}


@router.get("/models/{model}", response_model=OpenAIModel, responses=error_responses())
async def retrieve_model(model: str, caller: CallerDep, session: SessionDep) -> dict[str, Any]:
    """One of the workspace's chatbots as an OpenAI model, as `GET /v1/models` lists it
    (`model` is `chatbot:<id>`); another workspace's chatbot is not found, like an unknown one.
    """
    chatbot = await service.get_model_chatbot(
        session, Scope.workspace(caller.workspace_id), _chatbot_id(model)
    )
    return _model(chatbot)
