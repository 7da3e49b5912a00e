"""Fixtures for the answerers: documentation-like passages and a local OpenAI-compatible server.

The server speaks the real chat completions wire format (JSON bodies, `text/event-stream`
chunks, a final usage chunk, `data: [DONE]`, OpenAI error bodies) on 127.0.0.1, so the
official SDK is exercised end to end.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sitechat.chat.llm import LLMConfig, OpenAIAnswerer
from sitechat.knowledge.passages import Passage
from tests.fixtures.servers import serve_in_thread

STALL_SECONDS = 30.0  # longer than any test waits: a stalled stream must be cut by the client


def make_passage(
    text: str,
    *,
    title: str = "Docs",
    heading: str = "",
    url: str | None = None,
    score: float = 1.0,
    anchor: str | None = None,
    rankings: dict[str, int] | None = None,
    ranking_scores: dict[str, float] | None = None,
    closeness: float | None = None,
) -> Passage:
    slug = title.lower().replace(" ", "-")
    return Passage(
        chunk_id=uuid.uuid4(),
        source_id=uuid.uuid4(),
        url=url if url is not None else f"https://docs.example.com/{slug}",
        title=title,
        heading=heading,
        text=text,
        score=score,
        anchor=anchor,
        rankings=rankings or {},
        ranking_scores=ranking_scores or {},
        closeness=closeness,
    )


@pytest.fixture
def docs_passages() -> list[Passage]:
    """Passages as retrieval would return them for questions about a Python tutorial site."""
    return [
        make_passage(
            "The module used to create and manage virtual environments is called venv. "
            "venv will usually install the most recent version of Python that you have "
            "available.\n\n"
            "To create a virtual environment, decide upon a directory where you want to place "
            "it, and run the venv module as a script with the directory path:\n\n"
            "```\npython -m venv tutorial-env\n```\n\n"
            "Once you've created a virtual environment, you may activate it.",
            title="Virtual Environments and Packages",
            heading="Creating Virtual Environments",
        ),
        make_passage(
            "You can install, upgrade, and remove packages using a program called pip. "
            "By default pip will install packages from the Python Package Index.\n"
            "You can install a specific version of a package by giving the package name "
            "followed by == and the version number:\n"
            "- python -m pip install requests==2.6.0\n"
            "Use pip uninstall followed by one or more package names to remove the packages.",
            title="Virtual Environments and Packages",
            heading="Managing Packages with pip",
            url="https://docs.example.com/venv#pip",
        ),
        make_passage(
            "The Pro plan costs 29 dollars per month and includes ten chatbots. "
            "The Free plan includes one chatbot and 100 messages per month. "
            "Paying yearly saves two months.",
            title="Pricing",
            heading="Plans",
        ),
        make_passage(
            "A dictionary maps keys to values. Keys must be immutable, such as strings or "
            "numbers. The del statement removes a key: value pair from a dictionary.",
            title="Data Structures",
            heading="Dictionaries",
        ),
    ]


# --- the local OpenAI-compatible server ------------------------------------------------------


@dataclass
class ServerBehaviour:
    """What the server does with the next requests; tests set it, then call the answerer."""

    reply_chunks: list[str] = field(default_factory=lambda: ["Hello", " there."])
    fail_status: int | None = None
    fail_times: int = 0  # how many requests get `fail_status` before the server answers
    response_delay_seconds: float = 0.0
    stall_after_chunks: int | None = None
    ping_while_stalled: bool = False  # SSE comments keep the socket busy but carry no data
    send_usage: bool = True
    # Replaces the content chunks with these raw SSE `data:` payloads (malformed replies).
    raw_data_lines: list[str] | None = None


_ERROR_BODIES = {
    429: {
        "message": "Rate limit reached for gpt-test in organization org-test on requests per "
        "min (RPM): Limit 3, Used 3, Requested 1.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    401: {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
}


PROMPT_TOKENS = 120
COMPLETION_TOKENS = 7  # what the server reports for a whole reply, whatever its length


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


class ChatCompletionsServer:
    """`POST /v1/chat/completions` as OpenAI serves it, recording every request body. Each
    reply chunk counts as one token: a request's `max_tokens` (or `max_completion_tokens`)
    stops the reply after as many, with `finish_reason: "length"`, as a model stops."""

    def __init__(self) -> None:
        self.behaviour = ServerBehaviour()
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.behaviour = ServerBehaviour()
        self.requests = []

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        behaviour = self.behaviour
        if behaviour.response_delay_seconds:
            await asyncio.sleep(behaviour.response_delay_seconds)
        if behaviour.fail_status is not None and len(self.requests) <= behaviour.fail_times:
            return JSONResponse(
                {"error": _ERROR_BODIES[behaviour.fail_status]},
                status_code=behaviour.fail_status,
                # OpenAI sends this; it keeps the SDK's retry waits short here.
                headers={"retry-after-ms": "10"},
            )
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._events(body["model"], behaviour, include_usage, limit),
                media_type="text/event-stream",
            )
        return JSONResponse(self._completion(body["model"], behaviour, limit))

    async def _stall(self, ping: bool) -> AsyncIterator[str]:
        stall_until = time.monotonic() + STALL_SECONDS
        while time.monotonic() < stall_until:
            await asyncio.sleep(0.05)
            if ping:
                yield ": ping\n\n"

    @staticmethod
    def _written(behaviour: ServerBehaviour, limit: int | None) -> tuple[list[str], str, int]:
        """What the model writes under `max_tokens` (each reply chunk is one token, as a
        model streams them): the chunks, the finish reason, the completion tokens."""
        if limit is not None and len(behaviour.reply_chunks) > limit:
            return behaviour.reply_chunks[:limit], "length", limit
        return behaviour.reply_chunks, "stop", COMPLETION_TOKENS

    def _completion(
        self, model: str, behaviour: ServerBehaviour, limit: int | None
    ) -> dict[str, Any]:
        chunks, finish_reason, completion_tokens = self._written(behaviour, limit)
        content = "".join(chunks)
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": _usage(completion_tokens),
        }

    async def _events(
        self, model: str, behaviour: ServerBehaviour, include_usage: bool, limit: int | None
    ) -> AsyncIterator[str]:
        written, finish_reason, completion_tokens = self._written(behaviour, limit)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            payload: dict[str, Any] = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_test",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
            if include_usage:
                payload["usage"] = None
            return f"data: {json.dumps(payload)}\n\n"

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        if behaviour.raw_data_lines is not None:
            for line in behaviour.raw_data_lines:
                yield f"data: {line}\n\n"
            return
        for sent, content in enumerate(written):
            if behaviour.stall_after_chunks is not None and sent == behaviour.stall_after_chunks:
                async for ping in self._stall(behaviour.ping_while_stalled):
                    yield ping
            yield chunk({"content": content})
        yield chunk({}, finish_reason=finish_reason)
        if include_usage and behaviour.send_usage:
            usage = _usage(completion_tokens)
            final = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_test",
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(final)}\n\n"
        yield "data: [DONE]\n\n"


@pytest.fixture(scope="session")
def chat_completions_server() -> Iterator[ChatCompletionsServer]:
    """One server for the session, in its own thread (so no signal handlers are installed)."""
    server_state = ChatCompletionsServer()
    with serve_in_thread(server_state.app, "chat-completions-server") as port:
        server_state.port = port
        yield server_state


@pytest.fixture
def llm_server(chat_completions_server: ChatCompletionsServer) -> ChatCompletionsServer:
    chat_completions_server.reset()
    return chat_completions_server


AnswererFactory = Callable[..., Awaitable[OpenAIAnswerer]]


@pytest.fixture
async def make_answerer(llm_server: ChatCompletionsServer) -> AsyncIterator[AnswererFactory]:
    """Build answerers against the local server (short timeouts); closes them afterwards."""
    created: list[OpenAIAnswerer] = []

    async def build(**overrides: Any) -> OpenAIAnswerer:
        settings: dict[str, Any] = {
            "model": "gpt-test",
            "base_url": llm_server.base_url,
            "api_key": "sk-test",
            "timeout_seconds": 0.5,
            "max_retries": 2,
            "max_context_tokens": 6_000,
        }
        settings.update(overrides)
        answerer = OpenAIAnswerer(LLMConfig(**settings))
        created.append(answerer)
        return answerer

    yield build
    for answerer in created:
        await answerer.aclose()
