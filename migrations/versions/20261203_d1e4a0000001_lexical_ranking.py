"""lexical ranking: code terms in search vectors, chunk lengths, per-chatbot term statistics

Revision ID: d1e4a0000001
Revises: c3a1f0000004
Create Date: 2026-12-03 17:00:00

See docs/decisions/0008-lexical-ranking.md. Everything is plain PostgreSQL 15 (no extension):

- `sitechat_code_terms(config, text)`: the identifiers of a text (`lru_cache`, `os.path.join`,
  `__slots__`) as whole lexemes, plus the parts of dotted ones, which the default parser keeps
  glued (`os.path.join` is one "host" token to it). The indexer adds it to every field.
- `chunks.search_length`: the number of lexeme positions of the vector (BM25's document
  length), computed by PostgreSQL from the vector on every write.
- `knowledge_term_stats`: per chatbot and lexeme, how many chunks hold it (BM25's document
  frequency); the row with the empty lexeme holds the chatbot's chunk count and total length.
  Kept exact by statement-level triggers on `chunks`, so every writer and every cascade (a page,
  a source, a chatbot deleted) counts, in the writer's transaction.
- `search_vector` is stored inline (MAIN) so the ranking reads it from the heap page, not from
  TOAST; the long `content` is what moves out of line.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1e4a0000001"
down_revision: str | None = "c3a1f0000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODE_TERMS = r"""
CREATE FUNCTION sitechat_code_terms(config regconfig, body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_tsvector(
               config,
               coalesce(
                   string_agg(replace(f.term, '.', ' '), ' ')
                   FILTER (WHERE f.dotted AND w.whole = f.term),
                   ''
               )
           )
           || coalesce(
               CAST(string_agg(quote_literal(lower(w.whole)) || ':' || least(f.n, 16383), ' ')
                    AS tsvector),
               CAST('' AS tsvector)
           )
    FROM (
        SELECT rtrim(m[1], '.') AS term, strpos(rtrim(m[1], '.'), '.') > 0 AS dotted, n
        FROM regexp_matches(body, '([A-Za-z_][A-Za-z0-9_]*[._][A-Za-z0-9_.]*)', 'g')
             WITH ORDINALITY AS r(m, n)
    ) AS f
    CROSS JOIN LATERAL (
        SELECT f.term AS whole
        UNION ALL
        -- the snake_case parts of a dotted name (strict: NULL when there is none)
        SELECT part
        FROM unnest(string_to_array(CASE WHEN f.dotted AND strpos(f.term, '_') > 0
                                         THEN f.term END, '.')) AS part
        WHERE strpos(part, '_') > 0 AND part ~ '[[:alnum:]]'
    ) AS w
    -- "e.g" and "__" are no identifiers
    WHERE f.term ~ '[[:alnum:]]' AND (NOT f.dotted OR f.term ~ '\w\w')
$$
"""

SEARCH_LENGTH = """
CREATE FUNCTION sitechat_search_length(vector tsvector) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CAST(coalesce(sum(coalesce(array_length(positions, 1), 1)), 0) AS integer)
    FROM unnest(vector)
$$
"""

# One upsert per statement that changed chunks. The chatbot's advisory lock orders concurrent
# writers (a re-crawled page deletes then inserts: two statements, which could otherwise lock
# the same rows in opposite orders); rows of a chatbot being deleted are skipped, its
# statistics go with it.
_UPSERT = """
        PERFORM pg_advisory_xact_lock(hashtextextended('sitechat.term_stats:' || chatbot_id, 0))
        FROM (SELECT DISTINCT chatbot_id FROM ({rows}) AS d ORDER BY chatbot_id) AS ids;
        INSERT INTO knowledge_term_stats AS s (chatbot_id, lexeme, chunks, positions)
        SELECT t.chatbot_id, t.lexeme, sum(t.sign), sum(t.sign * t.tf)
        FROM (
            SELECT d.chatbot_id, u.lexeme, d.sign,
                   coalesce(array_length(u.positions, 1), 1) AS tf
            FROM ({rows}) AS d, unnest(d.search_vector) AS u
            UNION ALL
            SELECT d.chatbot_id, '', d.sign, d.search_length FROM ({rows}) AS d
        ) AS t
        WHERE EXISTS (SELECT 1 FROM chatbots AS c WHERE c.id = t.chatbot_id)
        GROUP BY t.chatbot_id, t.lexeme
        ORDER BY t.chatbot_id, t.lexeme
        ON CONFLICT (chatbot_id, lexeme) DO UPDATE
        SET chunks = s.chunks + excluded.chunks, positions = s.positions + excluded.positions;
"""
_NEW = "SELECT chatbot_id, search_vector, search_length, 1 AS sign FROM new_rows"
_OLD = "SELECT chatbot_id, search_vector, search_length, -1 AS sign FROM old_rows"

COUNT_TERMS = f"""
CREATE FUNCTION sitechat_count_chunk_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
{_UPSERT.format(rows=_NEW)}
    ELSIF TG_OP = 'DELETE' THEN
{_UPSERT.format(rows=_OLD)}
    ELSE
{_UPSERT.format(rows=_NEW + " UNION ALL " + _OLD)}
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    "CREATE TRIGGER chunks_count_terms_insert AFTER INSERT ON chunks "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION sitechat_count_chunk_terms()",
    "CREATE TRIGGER chunks_count_terms_delete AFTER DELETE ON chunks "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION sitechat_count_chunk_terms()",
    "CREATE TRIGGER chunks_count_terms_update AFTER UPDATE ON chunks "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION sitechat_count_chunk_terms()",
)

# The indexing expression of `sitechat/knowledge/indexing.py` as of this revision, to re-index
# the chunks written before it.
_FIELD = (
    "setweight(to_tsvector(CAST(language AS regconfig), {column}) "
    "|| sitechat_code_terms(CAST(language AS regconfig), {column}), '{weight}')"
)
REINDEX = (
    "UPDATE chunks SET search_vector = "
    + " || ".join(
        _FIELD.format(column=column, weight=weight)
        for column, weight in (("title", "A"), ("heading", "B"), ("content", "C"))
    )
)

BACKFILL = """
INSERT INTO knowledge_term_stats (chatbot_id, lexeme, chunks, positions)
SELECT t.chatbot_id, t.lexeme, count(*), sum(t.tf)
FROM (
    SELECT c.chatbot_id, u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
    FROM chunks AS c, unnest(c.search_vector) AS u
    UNION ALL
    SELECT c.chatbot_id, '', c.search_length FROM chunks AS c
) AS t
GROUP BY t.chatbot_id, t.lexeme
"""


def upgrade() -> None:
    op.execute(CODE_TERMS)
    op.execute(SEARCH_LENGTH)
    op.execute("ALTER TABLE chunks ALTER COLUMN search_vector SET STORAGE MAIN")
    op.execute(REINDEX)
    op.add_column(
        "chunks",
        sa.Column(
            "search_length",
            sa.Integer(),
            sa.Computed("sitechat_search_length(search_vector)", persisted=True),
            nullable=True,
        ),
    )
    op.create_table(
        "knowledge_term_stats",
        sa.Column("chatbot_id", sa.UUID(), nullable=False),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("positions", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chatbot_id"],
            ["chatbots.id"],
            name=op.f("fk_knowledge_term_stats_chatbot_id_chatbots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chatbot_id", "lexeme", name=op.f("pk_knowledge_term_stats")),
    )
    op.execute(BACKFILL)
    op.execute(COUNT_TERMS)
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER chunks_count_terms_{name} ON chunks")
    op.execute("DROP FUNCTION sitechat_count_chunk_terms()")
    op.drop_table("knowledge_term_stats")
    op.drop_column("chunks", "search_length")
    op.execute("DROP FUNCTION sitechat_search_length(tsvector)")
    op.execute("ALTER TABLE chunks ALTER COLUMN search_vector SET STORAGE EXTENDED")
    # Vectors keep their code terms: the previous ranking matches them like any lexeme, and
    # re-indexing every chunk again would only make the downgrade slower. The function they
    # were made with goes.
    op.execute("DROP FUNCTION sitechat_code_terms(regconfig, text)")
