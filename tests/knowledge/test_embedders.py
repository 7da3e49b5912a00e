"""The embedders against a local OpenAI-compatible server, and the choice made from settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sitechat.config import EmbeddingSettings
from sitechat.knowledge.embedders import (
    EmbedderUnavailable,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    build_embedder,
)
from tests.knowledge.conftest import DIMENSIONS, EmbeddingsServer, embedder_for, fake_vector


class TestOpenAIEmbedder:
    async def test_returns_one_vector_per_text_in_order_across_batches(
        self, embeddings_server: EmbeddingsServer
    ) -> None:
        embedder = embedder_for(embeddings_server, batch_size=2)
        texts = ["car repair", "refund", "opening hours"]
        try:
            vectors = await embedder.embed(texts)
        finally:
            await embedder.aclose()

        assert vectors == [fake_vector(text, "fake-embed-1") for text in texts]
        assert [len(batch) for batch in embeddings_server.batches] == [2, 1]
        assert len(vectors[0]) == DIMENSIONS

    async def test_a_provider_error_becomes_an_embedding_error(
        self, embeddings_server: EmbeddingsServer
    ) -> None:
        embeddings_server.fail_with_status = 400
        embedder = embedder_for(embeddings_server)
        try:
            with pytest.raises(EmbeddingError) as raised:
                await embedder.embed(["car repair"])
        finally:
            await embedder.aclose()

        assert raised.value.reason == "embedding-refused"

    async def test_an_unreachable_endpoint_becomes_an_embedding_error(self) -> None:
        settings = EmbeddingSettings(
            provider="openai", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_seconds=2
        )
        embedder = build_embedder(settings)
        assert embedder is not None
        try:
            with pytest.raises(EmbeddingError) as raised:
                await embedder.embed(["car repair"])
        finally:
            await embedder.aclose()

        assert raised.value.reason == "embedding-unavailable"

    def test_shortened_vectors_are_tagged_as_another_model(self) -> None:
        settings = EmbeddingSettings(provider="openai", model="text-embedding-3-small")
        shortened = settings.model_copy(update={"dimensions": 256})

        full, short = build_embedder(settings), build_embedder(shortened)

        assert isinstance(full, OpenAIEmbedder) and isinstance(short, OpenAIEmbedder)
        assert full.model_name == "text-embedding-3-small"
        assert short.model_name == "text-embedding-3-small@256"


class TestBuildEmbedder:
    def test_none_means_no_embedder(self) -> None:
        assert build_embedder(EmbeddingSettings(provider="none")) is None

    def test_local_is_the_default_and_runs_minilm(self) -> None:
        embedder = build_embedder(EmbeddingSettings())

        assert isinstance(embedder, LocalEmbedder)
        assert embedder.model_name == "sentence-transformers/all-MiniLM-L6-v2"

    def test_local_refuses_another_model_clearly(self) -> None:
        settings = EmbeddingSettings(provider="local", model="BAAI/bge-small-en-v1.5")

        with pytest.raises(EmbedderUnavailable, match="all-MiniLM-L6-v2 only"):
            build_embedder(settings)

    def test_openai_defaults_to_text_embedding_3_small(self) -> None:
        embedder = build_embedder(EmbeddingSettings(provider="openai"))

        assert isinstance(embedder, OpenAIEmbedder)
        assert embedder.model_name == "text-embedding-3-small"

    def test_the_api_key_never_shows_in_the_settings_repr(self) -> None:
        settings = EmbeddingSettings(provider="openai", api_key=SecretStr("sk-secret-value"))

        assert "sk-secret-value" not in repr(settings)
