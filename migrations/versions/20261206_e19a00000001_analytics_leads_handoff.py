"""analytics, lead capture and hand-off: message facts, indexes, leads, conversation status

Revision ID: e19a00000001
Revises: f3a9c0000013
Create Date: 2026-12-06 22:20:00

Messages carry what analytics counts (their chatbot, an answer's latency and question, a
question's key of stemmed terms) so a chatbot's period is one index range on `messages`.
Existing messages get their chatbot from their conversation and their question from the
message just before them; their latency and key stay NULL (unknown).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e19a00000001"
down_revision: str | None = "f3a9c0000013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The citations of complete, non-fallback answers (the rows analytics counts).
COPY_CITATIONS = """
INSERT INTO message_citations (message_id, number, chatbot_id, created_at, url, title)
SELECT DISTINCT ON (m.id, (c.value->>'number')::int)
       m.id, (c.value->>'number')::int, m.chatbot_id, m.created_at, left(c.value->>'url', 2048),
       left(coalesce(c.value->>'title', ''), 500)
FROM messages m, jsonb_array_elements(m.citations) AS c
WHERE m.role = 'assistant' AND m.status = 'complete' AND NOT m.fallback
  AND jsonb_typeof(m.citations) = 'array' AND (c.value->>'number') ~ '^[0-9]{1,9}$'
"""
_ANSWER_FACTS = ["role", "status", "fallback", "handoff_notice", "latency_ms", "question_id"]


def upgrade() -> None:
    op.execute("ALTER TYPE message_role ADD VALUE IF NOT EXISTS 'agent'")
    conversation_status = postgresql.ENUM(
        "active", "handoff_requested", name="conversation_status", create_type=False
    )
    conversation_status.create(op.get_bind(), checkfirst=True)

    op.add_column(
        "conversations",
        sa.Column("status", conversation_status, nullable=False, server_default="active"),
    )
    op.alter_column("conversations", "status", server_default=None)
    op.add_column(
        "conversations", sa.Column("handoff_requested_at", sa.DateTime(timezone=True))
    )
    op.add_column("conversations", sa.Column("handoff_reason", sa.Text()))
    op.create_index(
        "ix_conversations_chatbot_created", "conversations", ["chatbot_id", "created_at"]
    )

    op.add_column("messages", sa.Column("chatbot_id", sa.Uuid()))
    op.execute(
        "UPDATE messages SET chatbot_id = c.chatbot_id FROM conversations c "
        "WHERE c.id = messages.conversation_id"
    )
    op.alter_column("messages", "chatbot_id", nullable=False)
    op.create_foreign_key(
        "fk_messages_chatbot_id_chatbots",
        "messages",
        "chatbots",
        ["chatbot_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.add_column("messages", sa.Column("latency_ms", sa.Integer()))
    op.add_column("messages", sa.Column("question_id", sa.Uuid()))
    op.add_column("messages", sa.Column("question_key", sa.String(length=500)))
    op.add_column(
        "messages",
        sa.Column("handoff_notice", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.alter_column("messages", "handoff_notice", server_default=None)
    op.add_column("messages", sa.Column("author_user_id", sa.Uuid()))
    op.create_foreign_key(
        "fk_messages_author_user_id_users",
        "messages",
        "users",
        ["author_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    # An answer's question is the user message right before it in its conversation.
    op.execute(
        "UPDATE messages AS answer SET question_id = ("
        "  SELECT q.id FROM messages q WHERE q.conversation_id = answer.conversation_id"
        "  AND q.role = 'user' AND q.id < answer.id ORDER BY q.id DESC LIMIT 1"
        ") WHERE answer.role = 'assistant'"
    )
    op.create_index(
        "ix_messages_chatbot_created",
        "messages",
        ["chatbot_id", "created_at"],
        postgresql_include=_ANSWER_FACTS,
    )
    op.create_index(
        "ix_messages_chatbot_questions",
        "messages",
        ["chatbot_id", "created_at"],
        postgresql_include=["question_key"],
        postgresql_where=sa.text("role = 'user'"),
    )
    op.create_index(
        "ix_messages_chatbot_unanswered",
        "messages",
        ["chatbot_id", "created_at"],
        postgresql_include=["question_key"],
        postgresql_where=sa.text(
            "role = 'assistant' AND status = 'complete' AND fallback AND NOT handoff_notice"
        ),
    )

    op.create_table(
        "message_citations",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("chatbot_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=2048)),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_message_citations_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "number", name="pk_message_citations"),
    )
    op.execute(COPY_CITATIONS)
    op.create_index(
        "ix_message_citations_chatbot_created",
        "message_citations",
        ["chatbot_id", "created_at"],
        postgresql_include=["url"],
    )

    op.add_column("feedback", sa.Column("chatbot_id", sa.Uuid()))
    op.execute(
        "UPDATE feedback SET chatbot_id = m.chatbot_id FROM messages m "
        "WHERE m.id = feedback.message_id"
    )
    op.alter_column("feedback", "chatbot_id", nullable=False)
    op.create_foreign_key(
        "fk_feedback_chatbot_id_chatbots",
        "feedback",
        "chatbots",
        ["chatbot_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_index(
        "ix_feedback_chatbot_updated",
        "feedback",
        ["chatbot_id", "updated_at"],
        postgresql_include=["rating"],
    )

    op.add_column(
        "chatbots",
        sa.Column(
            "lead_capture",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )
    op.alter_column("chatbots", "lead_capture", server_default=None)
    op.add_column(
        "chatbots",
        sa.Column(
            "handoff_message",
            sa.Text(),
            nullable=False,
            server_default="A person from our team will reply here soon.",
        ),
    )
    op.alter_column("chatbots", "handoff_message", server_default=None)

    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("chatbot_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120)),
        sa.Column("email", sa.String(length=320)),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_leads_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chatbot_id"], ["chatbots.id"], name="fk_leads_chatbot_id_chatbots", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_leads_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
        sa.UniqueConstraint("conversation_id", name="uq_leads_conversation_id"),
    )
    op.create_index("ix_leads_chatbot", "leads", ["chatbot_id", "id"])
    op.create_index("ix_leads_workspace_id", "leads", ["workspace_id"])


def downgrade() -> None:
    op.drop_index("ix_leads_workspace_id", table_name="leads")
    op.drop_index("ix_leads_chatbot", table_name="leads")
    op.drop_table("leads")
    op.drop_column("chatbots", "handoff_message")
    op.drop_column("chatbots", "lead_capture")
    op.drop_index("ix_feedback_chatbot_updated", table_name="feedback")
    op.drop_index("ix_message_citations_chatbot_created", table_name="message_citations")
    op.drop_table("message_citations")
    op.drop_constraint("fk_feedback_chatbot_id_chatbots", "feedback", type_="foreignkey")
    op.drop_column("feedback", "chatbot_id")

    op.drop_index("ix_messages_chatbot_unanswered", table_name="messages")
    op.drop_index("ix_messages_chatbot_questions", table_name="messages")
    op.drop_index("ix_messages_chatbot_created", table_name="messages")
    op.drop_constraint("fk_messages_author_user_id_users", "messages", type_="foreignkey")
    op.drop_column("messages", "author_user_id")
    op.drop_column("messages", "handoff_notice")
    op.drop_column("messages", "question_key")
    op.drop_column("messages", "question_id")
    op.drop_column("messages", "latency_ms")
    op.drop_constraint("fk_messages_chatbot_id_chatbots", "messages", type_="foreignkey")
    op.drop_column("messages", "chatbot_id")

    op.drop_index("ix_conversations_chatbot_created", table_name="conversations")
    op.drop_column("conversations", "handoff_reason")
    op.drop_column("conversations", "handoff_requested_at")
    op.drop_column("conversations", "status")
    op.execute("DROP TYPE conversation_status")

    # PostgreSQL cannot drop an enum value: agent replies go, and the type is made again.
    op.execute("DELETE FROM messages WHERE role = 'agent'")
    op.execute("ALTER TYPE message_role RENAME TO message_role_with_agent")
    op.execute("CREATE TYPE message_role AS ENUM ('user', 'assistant')")
    op.execute(
        "ALTER TABLE messages ALTER COLUMN role TYPE message_role "
        "USING role::text::message_role"
    )
    op.execute("DROP TYPE message_role_with_agent")
