"""crawl_jobs.pages_unvisited: URLs a crawl found but left unvisited because it stopped first

Revision ID: d7e2a0000001
Revises: d17a0f000001
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7e2a0000001"
down_revision: str | None = "d17a0f000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "crawl_jobs",
        sa.Column("pages_unvisited", sa.Integer(), nullable=False, server_default="0"),
    )
    op.alter_column("crawl_jobs", "pages_unvisited", server_default=None)  # as the other counters


def downgrade() -> None:
    op.drop_column("crawl_jobs", "pages_unvisited")
