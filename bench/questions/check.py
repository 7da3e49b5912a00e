"""Check the question sets against the installed documentation.

`python -m bench.questions.check` (from the repository root) verifies, for every set:

- every answering page exists under the set's site root;
- every key phrase occurs, case-insensitively, in the text of at least one of that question's
  answering pages (tags, scripts and styles stripped, entities decoded, whitespace collapsed);
- answerable questions have 1-3 phrases, unanswerable ones have neither pages nor phrases;
- the split is one of `SPLITS` (tune, holdout, fresh), and no question text occurs twice;
- no question copies a run of `COPY_RUN` or more consecutive words from one of its answering
  pages (that would be the docs' own wording, which makes retrieval too easy).

It prints the counts per set and split and exits with status 1 on any problem.
"""

from __future__ import annotations

import html
import re
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from bench.questions import ALL_SETS, SPLITS, Question, QuestionSet

COPY_RUN = 6

_SKIPPED = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9_]+")


def html_text(markup: str) -> str:
    """The visible text of an HTML page: tags stripped, entities decoded, spaces collapsed."""
    markup = _COMMENT.sub(" ", _SKIPPED.sub(" ", markup))
    text = html.unescape(_TAG.sub("", markup))
    return _SPACE.sub(" ", text).strip()


@cache
def page_text(root: str, page: str) -> str:
    """The lower-cased text of a page under `root` ("" if it is missing)."""
    path = Path(root) / page
    if not path.is_file():
        return ""
    return html_text(path.read_text(encoding="utf-8", errors="replace")).lower()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def runs(tokens: list[str], length: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + length]) for i in range(len(tokens) - length + 1)}


@cache
def page_runs(root: str, page: str) -> frozenset[tuple[str, ...]]:
    return frozenset(runs(words(page_text(root, page)), COPY_RUN))


def question_problems(qs: QuestionSet, question: Question) -> Iterator[str]:
    label = f"{qs.name}: {question.text!r}"
    if question.split not in SPLITS:
        yield f"{label}: split {question.split!r} is not one of {SPLITS}"
    if not question.text.strip():
        yield f"{label}: empty question"
    if not question.pages:
        if question.phrases:
            yield f"{label}: an unanswerable question has key phrases"
        return
    if not 1 <= len(question.phrases) <= 3:
        yield f"{label}: {len(question.phrases)} key phrases (1-3 expected)"
    if len(set(question.pages)) != len(question.pages):
        yield f"{label}: a page is listed twice"
    present = [p for p in question.pages if (Path(qs.site_root) / p).is_file()]
    for page in question.pages:
        if page not in present:
            yield f"{label}: page {page} does not exist under {qs.site_root}"
    texts = [page_text(qs.site_root, p) for p in present]
    for phrase in question.phrases:
        needle = _SPACE.sub(" ", phrase.lower()).strip()
        if not needle:
            yield f"{label}: empty key phrase"
        elif not any(needle in text for text in texts):
            yield f"{label}: key phrase {phrase!r} is in none of its pages"
    asked = runs(words(question.text), COPY_RUN)
    for page in present:
        copied = asked & page_runs(qs.site_root, page)
        if copied:
            run = " ".join(sorted(copied)[0])
            yield f"{label}: copies {COPY_RUN}+ words from {page}: {run!r}"


def set_problems(qs: QuestionSet) -> Iterator[str]:
    if not Path(qs.site_root).is_dir():
        yield f"{qs.name}: site root {qs.site_root} is missing (install the Debian package)"
        return
    seen = Counter(_SPACE.sub(" ", q.text.lower()).strip() for q in qs.questions)
    for text, count in seen.items():
        if count > 1:
            yield f"{qs.name}: question asked {count} times: {text!r}"
    for question in qs.questions:
        yield from question_problems(qs, question)


def counts(qs: QuestionSet) -> str:
    lines = [f"{qs.name} ({qs.site_root}): {len(qs.questions)} questions"]
    for split in SPLITS:
        chosen = [q for q in qs.questions if q.split == split]
        answerable = sum(q.answerable for q in chosen)
        lines.append(
            f"  {split:8} {len(chosen):4} = {answerable:3} answerable"
            f" + {len(chosen) - answerable:3} unanswerable"
        )
    lines.append(
        f"  {'total':8} {len(qs.questions):4} = {len(qs.answerable):3} answerable"
        f" + {len(qs.unanswerable):3} unanswerable"
        f", {len({p for q in qs.questions for p in q.pages})} distinct pages"
    )
    return "\n".join(lines)


def main() -> int:
    problems: list[str] = []
    names = Counter(qs.name for qs in ALL_SETS)
    problems += [f"set name {name!r} used {n} times" for name, n in names.items() if n > 1]
    for qs in ALL_SETS:
        problems += set_problems(qs)
        print(counts(qs))
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    print(f"{len(problems)} problem(s)" if problems else "all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
