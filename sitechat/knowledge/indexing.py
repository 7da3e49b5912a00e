"""How chunk text becomes searchable: one weighted `tsvector` per chunk."""

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


def search_vector(language: Text, title: Text, heading: Text, content: Text) -> ColumnElement[str]:
    """Title weighs most (A), then the heading path (B), then the text (C).

    Values or SQL expressions (bound parameters, so one compiled INSERT serves every chunk).
    """
    config = cast(_expression(language), REGCONFIG)
    return (
        func.setweight(func.to_tsvector(config, _expression(title)), _weight("A"))
        .op("||")(func.setweight(func.to_tsvector(config, _expression(heading)), _weight("B")))
        .op("||")(func.setweight(func.to_tsvector(config, _expression(content)), _weight("C")))
    )
