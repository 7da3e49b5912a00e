"""A local OpenAI-compatible embeddings server and the switch that turns dense retrieval on.

The server speaks the `/v1/embeddings` wire format (and OpenAI error bodies) on 127.0.0.1, so
the official SDK is exercised end to end. Its vectors are deterministic: a hashed bag of words
in 64 dimensions, after mapping a few synonyms onto one word, so "automobile" and "car" land on
the same dimension while sharing no words for full-text search. The model name salts the hash:
another model gives other vectors.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sitechat.knowledge import vectors
from sitechat.knowledge.dense import DenseRetrieval, DenseSetup
from sitechat.knowledge.embedders import LocalEmbedder, OpenAIEmbedder, OpenAIEmbedderConfig
from tests.fixtures.plans import provided
from tests.fixtures.servers import serve_in_thread

DIMENSIONS = 64
NO_PGVECTOR = "the server has no pgvector (no chunk_embeddings table): dense retrieval is off there"

SYNONYMS = {
    "automobile": "car",
    "vehicle": "car",
    "mechanic": "repair",
    "fix": "repair",
    "fixes": "repair",
    "garage": "repair",
    "reimbursement": "refund",
    "reimbursed": "refund",
    "refunds": "refund",
    "money": "refund",
}
STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "at", "by", "can", "do", "for", "how", "i", "in", "is", "it"}
    | {"my", "of", "on", "our", "the", "to", "we", "what", "with", "you"}
)


# The words the synonyms map to own a dimension each, so no other word collides with them.
CONCEPT_DIMENSIONS = {"car": 0, "repair": 1, "refund": 2}


def fake_vector(text: str, model: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    free = DIMENSIONS - len(CONCEPT_DIMENSIONS)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in STOP_WORDS:
            continue
        word = SYNONYMS.get(word, word)
        digest = hashlib.sha256(f"{model}:{word}".encode()).digest()
        hashed = len(CONCEPT_DIMENSIONS) + int.from_bytes(digest[:4], "big") % free
        vector[CONCEPT_DIMENSIONS.get(word, hashed)] += 1.0
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


@dataclass
class EmbeddingsServer:
    port: int = 0
    # Set by tests: answer every request with this HTTP status (an OpenAI error body).
    fail_with_status: int | None = None
    batches: list[list[str]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.fail_with_status = None
        self.batches = []

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/embeddings", self._embeddings, methods=["POST"])])

    async def _embeddings(self, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        if self.fail_with_status is not None:
            error = {"message": "the model is overloaded", "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=self.fail_with_status)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.batches.append(list(inputs))
        data = [
            {"object": "embedding", "index": index, "embedding": fake_vector(text, body["model"])}
            for index, text in enumerate(inputs)
        ]
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )


@pytest.fixture(scope="session")
def embeddings_server_session() -> Iterator[EmbeddingsServer]:
    """One server for the session, in its own thread (so no signal handlers are installed)."""
    state = EmbeddingsServer()
    with serve_in_thread(state.app, "embeddings-server") as port:
        state.port = port
        yield state


@pytest.fixture
def embeddings_server(embeddings_server_session: EmbeddingsServer) -> EmbeddingsServer:
    embeddings_server_session.reset()
    return embeddings_server_session


@pytest.fixture(scope="session")
async def has_pgvector(app: FastAPI) -> bool:
    async with app.state.engine.connect() as connection:
        return await vectors.table_exists(connection)


def embedder_for(server: EmbeddingsServer, model: str = "fake-embed-1", **options: Any) -> Any:
    config = OpenAIEmbedderConfig(
        model=model, base_url=server.base_url, api_key="test-key", max_retries=0, **options
    )
    return OpenAIEmbedder(config)


@pytest.fixture
async def dense_on(
    has_pgvector: bool, embeddings_server: EmbeddingsServer, target_app: FastAPI
) -> AsyncIterator[DenseRetrieval]:
    """Dense retrieval on, with the local server's model, for one test (pgvector servers):
    the `target_app`'s requests and jobs use it."""
    if not has_pgvector:
        pytest.skip(NO_PGVECTOR)
    dense = DenseRetrieval(embedder_for(embeddings_server), batch_size=2)
    try:
        with provided(target_app, DenseSetup(dense)):
            yield dense
    finally:
        await dense.embedder.aclose()


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """The default embedder, the real all-MiniLM-L6-v2 from its wheel (loaded once a process)."""
    return LocalEmbedder(threads=2)


@pytest.fixture
async def minilm_on(
    has_pgvector: bool, local_embedder: LocalEmbedder, target_app: FastAPI
) -> AsyncIterator[DenseRetrieval]:
    """Dense retrieval on with the real local model, for one test (pgvector servers): the
    `target_app`'s requests and jobs use it."""
    if not has_pgvector:
        pytest.skip(NO_PGVECTOR)
    dense = DenseRetrieval(local_embedder, batch_size=8)
    with provided(target_app, DenseSetup(dense)):
        yield dense
