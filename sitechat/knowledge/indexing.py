"""How chunk text becomes searchable: one weighted `tsvector` per chunk.

Each field is parsed by the chatbot's text-search configuration and completed with its code
terms (`sitechat_code_terms`, a SQL function of migration d1e4a0000001): identifiers such as
`lru_cache`, `os.path.join` or `__slots__` as whole lexemes, and the parts of dotted ones,
which the default parser keeps glued. A question is parsed by the same `field_vector`
(`repository.question_terms`), so a visitor typing `lru_cache`, `lru cache` or `os.path.join`
meets the indexed forms. PostgreSQL derives `chunks.search_length` from the vector and keeps
`knowledge_term_stats` in step (triggers of the same migration).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, cast, func, literal, literal_column
from sqlalchemy.dialects.postgresql import REGCONFIG

# Languages with a PostgreSQL text-search configuration that chatbots may choose.
SEARCH_LANGUAGES = frozenset(
    {
        "simple",
        "arabic",
        "danish",
        "dutch",
        "english",
        "finnish",
        "french",
        "german",
        "greek",
        "hungarian",
        "indonesian",
        "irish",
        "italian",
        "lithuanian",
        "nepali",
        "norwegian",
        "portuguese",
        "romanian",
        "russian",
        "spanish",
        "swedish",
        "tamil",
        "turkish",
    }
)


def _weight(letter: str) -> ColumnElement[str]:
    # setweight() takes a "char"; a bound string would arrive as varchar and match no function.
    return literal_column(f"'{letter}'")


Text = str | ColumnElement[str]


def _expression(value: Text) -> ColumnElement[str]:
    return literal(value) if isinstance(value, str) else value


def field_vector(config: ColumnElement[str], value: Text) -> ColumnElement[str]:
    """A field's lexemes: its words as the configuration parses them, and its code terms."""
    text = _expression(value)
    return func.to_tsvector(config, text).op("||")(func.sitechat_code_terms(config, text))


def search_vector(language: Text, title: Text, heading: Text, content: Text) -> ColumnElement[str]:
    """Title weighs most (A), then the heading path (B), then the text (C).

    Values or SQL expressions (bound parameters, so one compiled INSERT serves every chunk).
    """
    config = cast(_expression(language), REGCONFIG)
    return (
        func.setweight(field_vector(config, title), _weight("A"))
        .op("||")(func.setweight(field_vector(config, heading), _weight("B")))
        .op("||")(func.setweight(field_vector(config, content), _weight("C")))
    )


QUESTION_KEY_CHARS = 500


def question_key(language: Text, question: Text) -> ColumnElement[str]:
    """What a question asks, as retrieval reads it: its distinct lexemes (stemmed, stop words
    gone, code terms whole), sorted and space-joined, so "How do I reset my password?" and
    "password resetting" share `password reset`. A question of stop words only keys on its
    lowercased text. Analytics groups questions by it (docs/decisions: question groups)."""
    config = cast(_expression(language), REGCONFIG)
    text = _expression(question)
    terms = func.array_to_string(func.tsvector_to_array(field_vector(config, text)), " ")
    return func.left(
        func.coalesce(func.nullif(terms, ""), func.lower(func.btrim(text))), QUESTION_KEY_CHARS
    )
