"""indexing progress: how many of a chatbot's chunks have a vector of the current model

Revision ID: e5b7c0000001
Revises: d0a680293edc
Create Date: 2026-12-03 18:40:00

`chatbots.embedded_chunks` / `embedding_model` are written by the embedding job after each
batch (counted from `chunk_embeddings`); `GET /v1/chatbots/{id}` reads them beside the live chunk
count (`knowledge_term_stats`), in the same one-statement read. Plain columns, so servers
without pgvector have them too (0 / NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b7c0000001"
down_revision: str | None = "d0a680293edc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chatbots",
        sa.Column("embedded_chunks", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("chatbots", sa.Column("embedding_model", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("chatbots", "embedding_model")
    op.drop_column("chatbots", "embedded_chunks")
