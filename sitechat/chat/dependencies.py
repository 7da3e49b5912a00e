"""Which answerer answers (`build_answerer`, from the settings) and the chat runtime the app
provides (`ChatRuntimeDep`); tests replace the runtime on the app state to swap the answerer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sitechat.chat.answerer import Answerer
from sitechat.chat.answering import ChatRuntime
from sitechat.chat.extractive import ExtractiveAnswerer
from sitechat.config import LLMSettings
from sitechat.core.state import app_state


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


async def get_chat_runtime(request: Request) -> ChatRuntime:
    return app_state(request).component(ChatRuntime)


ChatRuntimeDep = Annotated[ChatRuntime, Depends(get_chat_runtime)]
