"""chunks.anchor: the page's id of the chunk's nearest heading, so citations link to the section

Revision ID: e9c4a0000001
Revises: f1a5e0000001
Create Date: 2026-12-06 22:30:00

Chunks written before this have no anchor (citations link to the page) until their page is
re-crawled: the crawler now keeps heading ids in the page's Markdown, which changes its hash.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e9c4a0000001"
down_revision: str | None = "f1a5e0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chunks", sa.Column("anchor", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("chunks", "anchor")
