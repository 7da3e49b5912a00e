"""message_citations.source_id / page_id: the cited page, which analytics groups by

Revision ID: a1c4f0000001
Revises: e6f2b0000001
Create Date: 2026-12-07 09:00:00

The most cited pages were grouped by URL, so every citation without one (text and Q&A
sources, a file's pages) fell into one row. Each citation now records the source and page it
cites; existing rows take them from their answer's stored citation (its `source_id`, and the
page of its `chunk_id` while that chunk exists).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1c4f0000001"
down_revision: str | None = "e6f2b0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UUID = "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'"
FILL_CITED_PAGES = f"""
UPDATE message_citations x
SET source_id = cited.source_id, page_id = cited.page_id
FROM (
    SELECT m.id AS message_id, (c.value->>'number')::int AS number,
           CASE WHEN c.value->>'source_id' ~ {_UUID} THEN (c.value->>'source_id')::uuid END
               AS source_id,
           chunk.page_id
    FROM messages m
    CROSS JOIN LATERAL jsonb_array_elements(m.citations) AS c
    LEFT JOIN chunks chunk ON c.value->>'chunk_id' ~ {_UUID}
        AND chunk.id = (c.value->>'chunk_id')::uuid
    WHERE m.id IN (SELECT message_id FROM message_citations)
      AND jsonb_typeof(m.citations) = 'array' AND (c.value->>'number') ~ '^[0-9]{{1,9}}$'
) AS cited
WHERE x.message_id = cited.message_id AND x.number = cited.number
"""


def upgrade() -> None:
    op.add_column("message_citations", sa.Column("source_id", sa.Uuid()))
    op.add_column("message_citations", sa.Column("page_id", sa.Uuid()))
    op.execute(FILL_CITED_PAGES)
    op.drop_index("ix_message_citations_chatbot_created", table_name="message_citations")
    op.create_index(
        "ix_message_citations_chatbot_created",
        "message_citations",
        ["chatbot_id", "created_at"],
        postgresql_include=["url", "source_id", "page_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_message_citations_chatbot_created", table_name="message_citations")
    op.create_index(
        "ix_message_citations_chatbot_created",
        "message_citations",
        ["chatbot_id", "created_at"],
        postgresql_include=["url"],
    )
    op.drop_column("message_citations", "page_id")
    op.drop_column("message_citations", "source_id")
