"""crawl_jobs.requested_pages: the pages a crawl asked for, beside the `max_pages` it was granted

Revision ID: a7c2d0000001
Revises: e9c4a0000001
Create Date: 2026-12-07 10:00:00

A retry and a scheduled re-sync ask for what the crawl they follow asked for; until now they
asked for its granted `max_pages`, which a nearly spent month had shrunk for good. Crawls
queued before this asked, as far as anyone can tell, for what they were granted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c2d0000001"
down_revision: str | None = "e9c4a0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crawl_jobs", sa.Column("requested_pages", sa.Integer(), nullable=True))
    op.execute("UPDATE crawl_jobs SET requested_pages = max_pages")
    op.alter_column("crawl_jobs", "requested_pages", nullable=False)


def downgrade() -> None:
    op.drop_column("crawl_jobs", "requested_pages")
