"""Embedders turn passages and questions into vectors for dense retrieval.

Two implementations: any OpenAI-compatible `/embeddings` endpoint through the official SDK, and a
local sentence-transformers model (an optional extra, imported only when configured, so the
default install carries no torch). `build_embedder` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import openai
import structlog
from openai import AsyncOpenAI

from sitechat.config import EmbeddingSettings

log = structlog.get_logger()

# Far below every common model's input limit (8k tokens for OpenAI's), so one long chunk cannot
# fail a whole batch.
MAX_INPUT_CHARS = 8_000
LOCAL_EXTRA_HINT = "pip install 'sitechat[local-embeddings]' (sentence-transformers)"


class EmbeddingError(Exception):
    """The embedder could not produce vectors; `reason` is a stable slug safe to log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class EmbedderUnavailable(RuntimeError):
    """The configured embedder cannot run in this installation (raised at start-up)."""


class Embedder(Protocol):
    @property
    def model_name(self) -> str:
        """What stored vectors are tagged with: vectors of different names never mix."""
        ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...

    async def aclose(self) -> None: ...


def model_key(model: str, dimensions: int | None) -> str:
    # A model asked for shortened vectors produces other vectors than the same model in full.
    return f"{model}@{dimensions}" if dimensions else model


def _checked(vectors: Sequence[Sequence[float]], expected: int) -> list[list[float]]:
    if len(vectors) != expected:
        raise EmbeddingError("embedding-bad-response", f"{len(vectors)} vectors for {expected}")
    checked = [[float(value) for value in vector] for vector in vectors]
    if not checked:
        return checked
    width = len(checked[0])
    for vector in checked:
        if len(vector) != width or width == 0 or not all(map(math.isfinite, vector)):
            raise EmbeddingError("embedding-bad-response", "uneven, empty or non-finite vectors")
    return checked


@dataclass(frozen=True)
class OpenAIEmbedderConfig:
    model: str
    base_url: str | None = None
    # May be empty for local servers (vLLM, Ollama, llama.cpp).
    api_key: str = ""
    dimensions: int | None = None
    batch_size: int = 64
    timeout_seconds: float = 30.0
    max_retries: int = 2


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible `/embeddings` endpoint; the SDK retries 429/5xx."""

    def __init__(self, config: OpenAIEmbedderConfig) -> None:
        self._config = config
        self._client = AsyncOpenAI(
            # The SDK refuses an empty key; local servers ignore whatever is sent.
            api_key=config.api_key or "not-needed",
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    @property
    def model_name(self) -> str:
        return model_key(self._config.model, self._config.dimensions)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        size = max(1, self._config.batch_size)
        for start in range(0, len(texts), size):
            vectors.extend(await self._embed_batch(texts[start : start + size]))
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        extra: dict[str, Any] = {}
        if self._config.dimensions:
            extra["dimensions"] = self._config.dimensions
        try:
            response = await self._client.embeddings.create(
                model=self._config.model,
                input=[text[:MAX_INPUT_CHARS] or " " for text in texts],
                encoding_format="float",
                **extra,
            )
        except openai.APITimeoutError as exc:
            raise EmbeddingError("embedding-timeout") from exc
        except openai.APIConnectionError as exc:
            raise EmbeddingError("embedding-unavailable") from exc
        except openai.RateLimitError as exc:
            raise EmbeddingError("embedding-rate-limited") from exc
        except openai.APIStatusError as exc:
            raise EmbeddingError("embedding-refused", f"HTTP {exc.status_code}") from exc
        except openai.OpenAIError as exc:
            raise EmbeddingError("embedding-bad-response") from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        return _checked([item.embedding for item in ordered], len(texts))

    async def aclose(self) -> None:
        await self._client.close()


class LocalEmbedder:
    """A sentence-transformers model on this machine (CPU or GPU), run off the event loop."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"SITECHAT_EMBEDDING_PROVIDER=local needs sentence-transformers: {LOCAL_EXTRA_HINT}"
            ) from exc
        self._model_name = model
        self._batch_size = batch_size
        self._model = SentenceTransformer(model)
        # One encode at a time: the model is not safe to share between threads.
        self._lock = asyncio.Lock()

    @property
    def model_name(self) -> str:
        return self._model_name

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        inputs = [text[:MAX_INPUT_CHARS] for text in texts]
        async with self._lock:
            try:
                matrix = await asyncio.to_thread(
                    self._model.encode,
                    inputs,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            except Exception as exc:  # the model's own errors are not ours to enumerate
                raise EmbeddingError("embedding-failed", type(exc).__name__) from exc
        return _checked(matrix.tolist(), len(texts))

    async def aclose(self) -> None:
        return None


def build_embedder(settings: EmbeddingSettings) -> Embedder | None:
    """The configured embedder, or None for `provider=none`.

    Raises `EmbedderUnavailable` when `local` is asked for without the optional extra.
    """
    if settings.provider == "none":
        return None
    if settings.provider == "local":
        return LocalEmbedder(settings.model, settings.batch_size)
    return OpenAIEmbedder(
        OpenAIEmbedderConfig(
            model=settings.model,
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            dimensions=settings.dimensions,
            batch_size=settings.batch_size,
            timeout_seconds=settings.timeout_seconds,
            max_retries=settings.max_retries,
        )
    )
