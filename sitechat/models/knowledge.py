"""The knowledge a chatbot answers from: pages (crawled or parsed) and the chunks cut from them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Computed, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from sitechat.models.base import Base, IdMixin


class Page(IdMixin, Base):
    """The latest extracted content of one canonical URL of a website source."""

    __tablename__ = "pages"
    __table_args__ = (Index("uq_pages_source_url", "source_id", "url", unique=True),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chatbots.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    crawl_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("crawl_jobs.id", ondelete="SET NULL")
    )
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(1000), default="")
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime]
    # Sent back on the next crawl as If-None-Match / If-Modified-Since: an unchanged page then
    # costs one 304 and no re-indexing; its links lead the crawl on without its body.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    links: Mapped[list[str] | None] = mapped_column(JSONB)
    # A page of a PDF file source (1-based), so citations can say "page 4".
    page_number: Mapped[int | None] = mapped_column(Integer)


class Chunk(IdMixin, Base):
    """A retrievable passage: a page section (or a text / Q&A source) with its citation data."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_search", "search_vector", postgresql_using="gin"),
        Index("ix_chunks_chatbot", "chatbot_id"),
        Index("ix_chunks_source", "source_id"),
        Index("ix_chunks_page", "page_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    page_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(1000), default="")
    heading: Mapped[str] = mapped_column(String(1000), default="")
    # The page's id of the nearest heading (`url#anchor` links to the section); None without.
    anchor: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32), default="english")
    # Written by `sitechat.knowledge.indexing.search_vector()`: title weighs most, then headings,
    # then the text, in the chatbot's language (a generated column cannot take the language
    # from a row, since the text-to-regconfig cast is not immutable).
    search_vector: Mapped[str] = mapped_column(TSVECTOR)
    # BM25's document length: the vector's lexeme positions, derived by PostgreSQL.
    search_length: Mapped[int | None] = mapped_column(
        Integer, Computed("sitechat_search_length(search_vector)", persisted=True)
    )


class TermStatistic(Base):
    """How many of a chatbot's chunks hold a lexeme (BM25's document frequency).

    Written only by the triggers on `chunks` (migration d1e4a0000001), in the transaction that
    changes the chunks. The row with the empty lexeme holds the chatbot's chunk count in
    `chunks` and the sum of their `search_length` in `positions`.
    """

    __tablename__ = "knowledge_term_stats"

    chatbot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chatbots.id", ondelete="CASCADE"), primary_key=True
    )
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    chunks: Mapped[int] = mapped_column(Integer)
    positions: Mapped[int] = mapped_column(BigInteger)
