"""chatbots.handoff_enabled: whether visitors may ask for a person

Revision ID: c4d0e0000033
Revises: f2b8c0000031
Create Date: 2026-12-07 22:00:00

Hand-off used to be always on. A new chatbot now starts with it off (nobody is promised a
person who is not there); every chatbot that exists when this runs keeps it on, so an owner
who relies on it does not lose it silently (ADR 0033). The column is added with `true` as
its default, which fills the existing rows, and the default then becomes `false`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4d0e0000033"
down_revision: str | None = "f2b8c0000031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chatbots",
        sa.Column("handoff_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.alter_column("chatbots", "handoff_enabled", server_default=sa.false())


def downgrade() -> None:
    op.drop_column("chatbots", "handoff_enabled")
