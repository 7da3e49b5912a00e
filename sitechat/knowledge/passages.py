"""What retrieval hands to an answerer: ranked passages with what a citation needs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

PageKey = uuid.UUID | str
"""A page: its id; else its URL; else, for a text or Q&A source (one page), the source's id."""


def page_key_of(page_id: uuid.UUID | None, url: str | None, source_id: uuid.UUID) -> PageKey:
    """The page a chunk was cut from. A file's pages share the file's URL (or have none): their
    page ids tell them apart."""
    if page_id is not None:
        return page_id
    return url if url is not None else source_id


# The names of the rankings a passage can be found by (`Passage.rankings`).
LEXICAL = "lexical"
SEMANTIC = "semantic"


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk; answerers receive them best-first."""

    chunk_id: uuid.UUID
    source_id: uuid.UUID
    url: str | None
    title: str
    heading: str
    text: str
    score: float
    # Which rankings found it, and at which rank (1 = first): {"lexical": 3, "semantic": 1}.
    rankings: Mapping[str, int] = field(default_factory=dict)
    # The page it was cut from (None for text and Q&A sources): a file's pages have no URL.
    page_id: uuid.UUID | None = None
    # Each ranking's own score of it: BM25 for "lexical", cosine similarity for "semantic".
    ranking_scores: Mapping[str, float] = field(default_factory=dict)
    # The page's id of the nearest heading: `link` is `url#anchor` when there is one.
    anchor: str | None = None
    # How much closer in meaning to the question than the chatbot's average chunk: its cosine
    # similarity minus the question's mean similarity to all of them (docs/decisions/0023),
    # shrunk toward 0 for a chatbot of few chunks (0025).
    # None without a semantic ranking or before the chatbot's mean vector exists.
    closeness: float | None = None

    @property
    def page_key(self) -> PageKey:
        """The page it was cut from: two passages of one page share it."""
        return page_key_of(self.page_id, self.url, self.source_id)

    @property
    def link(self) -> str | None:
        """Where a citation of this passage points: the section when the page names it."""
        if self.url is None or not self.anchor:
            return self.url
        return f"{self.url.split('#', 1)[0]}#{self.anchor}"
