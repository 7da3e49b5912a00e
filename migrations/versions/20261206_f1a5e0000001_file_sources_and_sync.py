"""file sources, source runs and scheduled re-sync: conditional-request validators per page

Revision ID: f1a5e0000001
Revises: e19a00000001
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1a5e0000001"
down_revision: str | None = "e19a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCE_STATUS = postgresql.ENUM(
    "queued", "processing", "ready", "failed", name="source_status", create_type=False
)
SYNC_SCHEDULE = postgresql.ENUM("off", "daily", "weekly", name="sync_schedule", create_type=False)
CRAWL_TRIGGER = postgresql.ENUM("manual", "schedule", name="crawl_trigger", create_type=False)
RUN_TRIGGER = postgresql.ENUM(
    "upload", "replace", "schedule", "manual", name="source_run_trigger", create_type=False
)
RUN_STATUS = postgresql.ENUM(
    "queued", "running", "completed", "failed", name="source_run_status", create_type=False
)
ENUMS = (SOURCE_STATUS, SYNC_SCHEDULE, CRAWL_TRIGGER, RUN_TRIGGER, RUN_STATUS)


def upgrade() -> None:
    # PostgreSQL 12+ adds an enum value inside a transaction; it is only used after commit.
    op.execute("ALTER TYPE source_kind ADD VALUE IF NOT EXISTS 'file'")
    bind = op.get_bind()
    for enum in ENUMS:
        enum.create(bind, checkfirst=True)

    op.add_column(
        "sources",
        sa.Column("status", SOURCE_STATUS, nullable=False, server_default="ready"),
    )
    op.add_column("sources", sa.Column("error", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("file_name", sa.String(255), nullable=True))
    op.add_column("sources", sa.Column("file_type", sa.String(20), nullable=True))
    op.add_column("sources", sa.Column("file_bytes", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("file_hash", sa.String(64), nullable=True))
    op.add_column(
        "sources",
        sa.Column("sync_schedule", SYNC_SCHEDULE, nullable=False, server_default="off"),
    )
    op.add_column("sources", sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "sources", sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("sources", sa.Column("etag", sa.String(500), nullable=True))
    op.add_column("sources", sa.Column("last_modified", sa.String(100), nullable=True))
    op.create_index(
        "ix_sources_next_sync_at",
        "sources",
        ["next_sync_at"],
        postgresql_where=sa.text("next_sync_at IS NOT NULL"),
    )

    op.add_column("pages", sa.Column("etag", sa.String(500), nullable=True))
    op.add_column("pages", sa.Column("last_modified", sa.String(100), nullable=True))
    op.add_column("pages", sa.Column("links", postgresql.JSONB(), nullable=True))
    op.add_column("pages", sa.Column("page_number", sa.Integer(), nullable=True))

    op.add_column(
        "crawl_jobs",
        sa.Column("trigger", CRAWL_TRIGGER, nullable=False, server_default="manual"),
    )
    op.add_column("crawl_pages", sa.Column("etag", sa.String(500), nullable=True))
    op.add_column("crawl_pages", sa.Column("last_modified", sa.String(100), nullable=True))

    op.create_table(
        "source_runs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("chatbot_id", sa.UUID(), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=False),
        sa.Column("trigger", RUN_TRIGGER, nullable=False),
        sa.Column("status", RUN_STATUS, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_type", sa.String(20), nullable=True),
        sa.Column("file_bytes", sa.Integer(), nullable=True),
        sa.Column("file_data", sa.LargeBinary(), nullable=True),
        sa.Column("http_requests", sa.Integer(), nullable=False),
        sa.Column("pages_new", sa.Integer(), nullable=False),
        sa.Column("pages_changed", sa.Integer(), nullable=False),
        sa.Column("pages_unchanged", sa.Integer(), nullable=False),
        sa.Column("pages_removed", sa.Integer(), nullable=False),
        sa.Column("pages_indexed", sa.Integer(), nullable=False),
        sa.Column("diff", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chatbot_id"],
            ["chatbots.id"],
            name="fk_source_runs_chatbot_id_chatbots",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name="fk_source_runs_source_id_sources",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_source_runs_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_source_runs"),
    )
    op.create_index("ix_source_runs_source", "source_runs", ["source_id", "id"])
    op.create_index("ix_source_runs_workspace_id", "source_runs", ["workspace_id"])


def downgrade() -> None:
    op.drop_index("ix_source_runs_workspace_id", table_name="source_runs")
    op.drop_index("ix_source_runs_source", table_name="source_runs")
    op.drop_table("source_runs")
    op.drop_column("crawl_pages", "last_modified")
    op.drop_column("crawl_pages", "etag")
    op.drop_column("crawl_jobs", "trigger")
    for column in ("page_number", "links", "last_modified", "etag"):
        op.drop_column("pages", column)
    op.drop_index("ix_sources_next_sync_at", table_name="sources")
    for column in (
        "last_modified",
        "etag",
        "last_synced_at",
        "next_sync_at",
        "sync_schedule",
        "file_hash",
        "file_bytes",
        "file_type",
        "file_name",
        "error",
        "status",
    ):
        op.drop_column("sources", column)
    bind = op.get_bind()
    for enum in ENUMS:
        enum.drop(bind, checkfirst=True)
    # An enum value cannot be dropped: file sources go, then the type is rebuilt without it.
    op.execute("DELETE FROM sources WHERE kind = 'file'")
    op.execute("ALTER TYPE source_kind RENAME TO source_kind_old")
    op.execute("CREATE TYPE source_kind AS ENUM ('website', 'text', 'qa')")
    op.execute(
        "ALTER TABLE sources ALTER COLUMN kind TYPE source_kind USING kind::text::source_kind"
    )
    op.execute("DROP TYPE source_kind_old")
