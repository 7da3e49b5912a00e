"""chatbots.theme: the embedded widget's colour, position, launcher text and avatar

Revision ID: f1d9e0000001
Revises: d7e2a0000001
Create Date: 2026-12-06 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1d9e0000001"
down_revision: str | None = "d7e2a0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing chatbots get an empty theme: the widget shows today's defaults for it.
    op.add_column(
        "chatbots",
        sa.Column(
            "theme",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )


def downgrade() -> None:
    op.drop_column("chatbots", "theme")
