"""The embedders against a local OpenAI-compatible server, and the choice made from settings."""

from __future__ import annotations

import importlib.util

import pytest
from pydantic import SecretStr

from sitechat.config import EmbeddingSettings
from sitechat.knowledge.embedders import (
    EmbedderUnavailable,
    EmbeddingError,
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
        assert build_embedder(EmbeddingSettings()) is None

    @pytest.mark.skipif(
        importlib.util.find_spec("sentence_transformers") is not None,
        reason="sentence-transformers is installed here",
    )
    def test_local_without_the_extra_fails_clearly(self) -> None:
        with pytest.raises(EmbedderUnavailable, match="sentence-transformers"):
            build_embedder(EmbeddingSettings(provider="local", api_key=SecretStr("")))

    def test_the_api_key_never_shows_in_the_settings_repr(self) -> None:
        settings = EmbeddingSettings(provider="openai", api_key=SecretStr("sk-secret-value"))

        assert "sk-secret-value" not in repr(settings)
