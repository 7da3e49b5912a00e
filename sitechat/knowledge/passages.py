"""What retrieval hands to an answerer: ranked passages with what a citation needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


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
