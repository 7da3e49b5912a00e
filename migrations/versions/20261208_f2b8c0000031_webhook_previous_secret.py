"""webhook_endpoints.previous_secret: a rotated secret still signs during an overlap

Revision ID: f2b8c0000031
Revises: a1c4f0000001
Create Date: 2026-12-08 09:00:00

Rotating a webhook's signing secret replaced it at once, so a receiver still verifying with
the old one rejected every delivery until it was redeployed. The replaced secret now signs
beside the new one until `previous_secret_expires_at` (docs/decisions/0031).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2b8c0000031"
down_revision: str | None = "a1c4f0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("previous_secret", sa.String(100)))
    op.add_column(
        "webhook_endpoints",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
    )
    # The sweep's "overlaps that ended" reads only the endpoints in one.
    op.create_index(
        "ix_webhook_endpoints_previous_secret_expiry",
        "webhook_endpoints",
        ["previous_secret_expires_at"],
        postgresql_where=sa.text("previous_secret_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_endpoints_previous_secret_expiry", table_name="webhook_endpoints")
    op.drop_column("webhook_endpoints", "previous_secret_expires_at")
    op.drop_column("webhook_endpoints", "previous_secret")
