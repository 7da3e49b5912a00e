"""crawl_jobs.requested_pages: the pages a crawl asked for, beside the `max_pages` it was granted

Revision ID: c2d7e0000001
Revises: b7a5e0000001
Create Date: 2026-12-07 11:00:00

A retry and a scheduled re-sync ask for what the crawl they follow asked for; until now they
asked for its granted `max_pages`, which a nearly spent month had shrunk for good. Crawls
queued before this asked, as far as anyone can tell, for what they were granted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c2d7e0000001"
down_revision: str | None = "b7a5e0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crawl_jobs", sa.Column("requested_pages", sa.Integer(), nullable=True))
    op.execute("UPDATE crawl_jobs SET requested_pages = max_pages")
    op.alter_column("crawl_jobs", "requested_pages", nullable=False)


def downgrade() -> None:
    op.drop_column("crawl_jobs", "requested_pages")
