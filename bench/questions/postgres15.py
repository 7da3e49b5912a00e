"""stub"""
from __future__ import annotations

from bench.questions import QuestionSet

POSTGRES15 = QuestionSet(
    name="postgres15-visitors", site_root="/usr/share/doc/postgresql-doc-15/html", questions=()
)
