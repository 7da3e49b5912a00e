"""crawl extras: crawl_pages.links, so a resumed crawl needs no second fetch of done pages

Revision ID: c3a1f0000001
Revises: 2bfee01e63b4
Create Date: 2026-11-24 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c3a1f0000001"
down_revision: str | None = "2bfee01e63b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "crawl_pages",
        sa.Column("links", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("crawl_pages", "links")
