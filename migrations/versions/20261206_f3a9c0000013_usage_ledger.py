"""Page usage kept as usage events (reserved per crawl, outliving chatbots and crawls);
subscriptions.usage_carried_from (an interval change does not restart the usage month)

Revision ID: f3a9c0000013
Revises: f1d9e0000001
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3a9c0000013"
down_revision: str | None = "f1d9e0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("usage_carried_from", sa.DateTime(timezone=True), nullable=True),
    )
    # Pages counted so far came from crawl_jobs.pages_indexed; each crawl gets its usage event
    # (a crawl still queued or running reserves its whole budget, as new ones do).
    op.execute(
        """
        INSERT INTO usage_events (id, workspace_id, kind, quantity, event_key, occurred_at,
                                  chatbot_id)
        SELECT gen_random_uuid(), workspace_id, 'pages',
               CASE WHEN status IN ('queued', 'running')
                    THEN GREATEST(max_pages, pages_indexed) ELSE pages_indexed END,
               'crawl:' || id::text, created_at, chatbot_id
        FROM crawl_jobs
        ON CONFLICT (event_key) DO NOTHING
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM usage_events WHERE kind = 'pages'")
    op.drop_column("subscriptions", "usage_carried_from")
