"""Pages only scripts write: crawl_jobs.pages_rendered / pages_needing_browser, crawl_pages.rendered

Revision ID: b7a5e0000001
Revises: e9c4a0000001
Create Date: 2026-12-07 10:00:00

A page whose HTML has next to no text but loads scripts is rendered in the headless browser
when one is configured (`rendered`), otherwise skipped as `needs-browser` and counted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7a5e0000001"
down_revision: str | None = "e9c4a0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = ("pages_rendered", "pages_needing_browser")


def upgrade() -> None:
    for name in _COUNTERS:
        op.add_column(
            "crawl_jobs", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
        op.alter_column("crawl_jobs", name, server_default=None)  # as the other counters
    op.add_column(
        "crawl_pages",
        sa.Column("rendered", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("crawl_pages", "rendered")
    for name in reversed(_COUNTERS):
        op.drop_column("crawl_jobs", name)
