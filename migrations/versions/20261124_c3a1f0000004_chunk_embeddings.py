"""dense retrieval: the pgvector extension and chunk_embeddings, where the server has pgvector

Revision ID: c3a1f0000004
Revises: c3a1f0000003
Create Date: 2026-11-24 03:00:00

PostgreSQL servers without pgvector (or where we may not create it) get nothing here and
retrieval stays lexical; the table is therefore not part of the models' metadata (see
`sitechat/search/vectors.py` and docs/decisions/0005-dense-retrieval.md).
"""

from collections.abc import Sequence

import structlog
from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

revision: str = "c3a1f0000004"
down_revision: str | None = "c3a1f0000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = structlog.get_logger()

# Kept on the table so that downgrade drops the extension only when this migration created it.
CREATED_EXTENSION_COMMENT = "sitechat: dense vectors of chunks; created the vector extension"
TABLE_COMMENT = "sitechat: dense vectors of chunks"


def _has_vector_extension() -> bool:
    """Installed already, or installed here when the server offers it and we may."""
    bind = op.get_bind()
    if bind.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")):
        return True
    if not bind.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")):
        log.info("migrate.pgvector_absent", reason="not available on this server")
        return False
    try:
        with bind.begin_nested():
            bind.execute(text("CREATE EXTENSION vector"))
    except DBAPIError as error:  # usually: only a superuser may create it
        log.warning("migrate.pgvector_absent", reason=type(error.orig).__name__)
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    created = not bind.scalar(text("SELECT 1 FROM pg_extension WHERE extname = 'vector'"))
    if not _has_vector_extension():
        return
    # `vector` without a size: any model's vectors fit, and search is exact per chatbot.
    op.execute(
        """
        CREATE TABLE chunk_embeddings (
            chunk_id uuid NOT NULL,
            chatbot_id uuid NOT NULL,
            model varchar(200) NOT NULL,
            embedding vector NOT NULL,
            created_at timestamp with time zone NOT NULL,
            CONSTRAINT pk_chunk_embeddings PRIMARY KEY (chunk_id),
            CONSTRAINT fk_chunk_embeddings_chunk_id_chunks FOREIGN KEY (chunk_id)
                REFERENCES chunks (id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_chunk_embeddings_chatbot_model ON chunk_embeddings (chatbot_id, model)"
    )
    comment = CREATED_EXTENSION_COMMENT if created else TABLE_COMMENT
    op.execute(f"COMMENT ON TABLE chunk_embeddings IS '{comment}'")


def downgrade() -> None:
    bind = op.get_bind()
    comment = bind.scalar(
        text("SELECT obj_description(to_regclass('chunk_embeddings'), 'pg_class')")
    )
    op.execute("DROP TABLE IF EXISTS chunk_embeddings")
    if comment == CREATED_EXTENSION_COMMENT:
        op.execute("DROP EXTENSION IF EXISTS vector")
