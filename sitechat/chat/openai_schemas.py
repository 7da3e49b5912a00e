"""What the OpenAI-compatible routes answer, for the OpenAPI document: OpenAI's objects and
error envelope (`chat/openai_errors.py`), not the problem+json of the other routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenAIModel(BaseModel):
    id: str = Field(examples=["chatbot:01936f0e-8c1b-7d6a-9f3e-2b4c5d6e7f80"])
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class CompletionMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class CompletionChoice(BaseModel):
    index: int
    message: CompletionMessage
    finish_reason: Literal["stop", "length"]


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionExtension(BaseModel):
    citations: list[dict[str, Any]]
    conversation_id: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    sitechat: CompletionExtension = Field(description="SiteChat's citations and conversation.")


class OpenAIError(BaseModel):
    # The problem's own members (`feature`, `errors`...) ride along.
    model_config = ConfigDict(extra="allow")

    message: str
    type: str = Field(description="OpenAI's error type (`invalid_request_error`...).")
    code: str | None = Field(description="The problem's slug (`not-found`...).")
    param: str | None = None
    problem_type: str
    request_id: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIError


_ERRORS = {
    401: "Missing or invalid credentials.",
    404: "Model not found.",
    422: "Invalid parameters (`param` names the first).",
    429: "Rate limited.",
}
_COMPLETION_ERRORS = {
    400: "Malformed request.",
    402: "The plan does not include the OpenAI-compatible API (`quota-exceeded`).",
    409: "The chatbot is not ready to answer (`chatbot-not-ready`).",
    413: "Request body too large.",
    415: "Request body is not JSON.",
    502: "The language model returned an unusable response.",
    503: "The language model is unavailable or busy.",
    504: "The language model took too long.",
}


def error_responses(*, completion: bool = False) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route's errors: OpenAI's envelope as `application/json`."""
    described = {**_ERRORS, **(_COMPLETION_ERRORS if completion else {})}
    return {
        status: {"model": OpenAIErrorResponse, "description": f"{description} OpenAI error."}
        for status, description in sorted(described.items())
    }


COMPLETION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ChatCompletion,
        "description": "A `chat.completion`; with `stream: true`, server-sent events instead.",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": "`data: {chat.completion.chunk}` events, then `data: [DONE]`.",
                }
            }
        },
    },
    **error_responses(completion=True),
}
