"""operator-granted subscriptions: a plan given with `sitechat admin set-plan`, never invoiced

Revision ID: d17a0f000001
Revises: e5b7c0000001
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d17a0f000001"
down_revision: str | None = "e5b7c0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("granted", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("subscriptions", "granted")
