"""ix_crawl_jobs_source: a source's crawls found without reading every crawl

Revision ID: e6f2b0000001
Revises: d4e1a0000001
Create Date: 2026-12-07 19:00:00

The scheduler's crawl to repeat, a source's crawl list, the pages a re-crawl already knows and
the cascade when a source is deleted all look crawls up by `source_id`, which had no index: each
read the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e6f2b0000001"
down_revision: str | None = "d4e1a0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_crawl_jobs_source", "crawl_jobs", ["source_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_crawl_jobs_source", table_name="crawl_jobs")
