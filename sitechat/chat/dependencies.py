"""Which answerer answers, and how answers stream: built once per app, swappable in tests.

The app keeps the answerer on `app.state.answerer`; it is created from `settings.llm` on first
use when nothing put one there (tests put stand-ins there).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from sitechat.chat.answerer import Answerer
from sitechat.chat.answering import ChatRuntime
from sitechat.chat.extractive import ExtractiveAnswerer
from sitechat.chat.streaming import StreamConfig
from sitechat.config import LLMSettings


def build_answerer(settings: LLMSettings) -> Answerer:
    if settings.answerer == "openai":
        # The openai SDK takes half a second to import; only deployments using it pay that.
        from sitechat.chat.llm import LLMConfig, OpenAIAnswerer

        return OpenAIAnswerer(
            LLMConfig(
                model=settings.model,
                base_url=settings.base_url,
                api_key=settings.api_key.get_secret_value(),
                timeout_seconds=settings.timeout_seconds,
                max_retries=settings.max_retries,
                max_context_tokens=settings.max_context_tokens,
            )
        )
    if settings.answerer == "extractive":
        return ExtractiveAnswerer()
    raise ValueError(f"unknown answerer {settings.answerer!r}; use 'extractive' or 'openai'")


def answerer_of(state: State) -> Answerer:
    answerer: Answerer | None = getattr(state, "answerer", None)
    if answerer is None:
        answerer = state.answerer = build_answerer(state.settings.llm)
    return answerer


def chat_runtime_of(state: State) -> ChatRuntime:
    config: StreamConfig = getattr(state, "chat_stream_config", None) or StreamConfig()
    return ChatRuntime(
        answerer=answerer_of(state),
        sessionmaker=state.sessionmaker,
        keepalive_seconds=config.keepalive_seconds,
    )


async def get_chat_runtime(request: Request) -> ChatRuntime:
    return chat_runtime_of(request.app.state)


ChatRuntimeDep = Annotated[ChatRuntime, Depends(get_chat_runtime)]
