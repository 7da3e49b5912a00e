"""chatbots.embedding_centroid: the mean of the chatbot's chunk vectors, for the answer rule

Revision ID: d4e1a0000001
Revises: c2d7e0000001
Create Date: 2026-12-07 12:00:00

The embedding job writes it beside `embedded_chunks`; a question's similarity to it is the
baseline its nearest passage's similarity is judged against (docs/decisions/0023). A plain
`real[]`, so the column exists on servers without pgvector too (where it stays empty).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d4e1a0000001"
down_revision: str | None = "c2d7e0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chatbots", sa.Column("embedding_centroid", postgresql.ARRAY(sa.REAL()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("chatbots", "embedding_centroid")
