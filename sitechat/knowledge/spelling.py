"""A visitor's misspelt word read as the word the chatbot's sources use.

Visitors type fast: "wisdon tooth", "the hygenist", "recipies", and leave hyphens out ("wifi",
"xrays", "ebikes" for the site's "Wi-Fi", "X-rays", "e-bikes"). Such a word matches nothing
lexically, reads as a name the sources do not know (`familiarity`: the question is refused),
and leaves the extractive answerer nothing of the question to quote. Before retrieval, a word
of the question the sources do not hold, not written as a name ("Patroni"), is replaced by a
spelling one edit away that the sources do hold:

- a hyphen added ("wi-fi"), for a word of at least `MIN_HYPHENLESS_LETTERS` that is not one of
  the embedder's common words; else
- on a small site (under `familiarity.RARE_FROM_CHUNKS` chunks), a letter left out, added or
  changed, or two swapped, for a word of at least `MIN_LETTERS` that is no English word in any
  inflection (the dictionary's and the embedder's words: "flask", "docker", "heals" are asked
  as such and must stay unknown), to a spelling the sources hold as written or an English
  word (not a stem: "datagrame" is held as "datagram" but is no word).
  Shorter words have too many neighbours ("amex", "appt"). Large sources are not corrected
  so: other products' names lie one letter from their words ("citus" / "cites", "streamlit" /
  "streamlining", "dataframe" / "datagram"), and a question about one must stay unknown.

The spelling chosen is the one the most chunks hold (a hyphen's first); on large sources it
must be held by more than `familiarity.RARE_CHUNKS` chunks. A word with no such neighbour
stays as typed, and the unfamiliar-terms rule judges it. The look-up is one
statement over the chatbot's term statistics, run only for questions with such a word.
"""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Container, Iterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sitechat.knowledge.familiarity import (
    RARE_CHUNKS,
    RARE_FROM_CHUNKS,
    VOCABULARY_LANGUAGE,
    Lexicon,
    dictionary,
    proper_nouns,
    vocabulary,
)
from sitechat.knowledge.repository import QuestionTerms

MIN_LETTERS = 5
MIN_HYPHENLESS_LETTERS = 4
# At most this many words of one question are looked up (each is ~55 spellings per letter).
MAX_WORDS = 3
_LETTERS = string.ascii_lowercase
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_WORD_BOUNDARY = r"(?<![A-Za-z0-9_'-]){}(?![A-Za-z0-9_'-])"
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly")
# Visitors' shorthand, read as the words a site writes when it does not hold the shorthand.
_SHORTHAND_TEXT = """
    amex=american_express appt=appointment appts=appointments xmas=christmas tmrw=tomorrow
    tmrow=tomorrow wkend=weekend hrs=hours mins=minutes tues=tuesday weds=wednesday
    thurs=thursday bday=birthday approx=approximately dept=department govt=government
"""
SHORTHAND = dict(
    (short, long.replace("_", " "))
    for short, long in (pair.split("=") for pair in _SHORTHAND_TEXT.split())
)

# Each (word, spelling) pair's lexemes the chatbot's chunks hold, and in how many chunks. A
# hyphenated spelling counts by its whole lexeme ("wi-fi"), not by its parts ("wi", "fi").
_KNOWN_SPELLINGS = text(
    """
SELECT v.word, v.spelling, t.lexeme, s.chunks
FROM unnest(CAST(:words AS text[]), CAST(:spellings AS text[])) AS v(word, spelling)
CROSS JOIN LATERAL unnest(to_tsvector(CAST(:language AS regconfig), v.spelling)) AS t
JOIN knowledge_term_stats AS s ON s.chatbot_id = :chatbot_id AND s.lexeme = t.lexeme
WHERE s.chunks > 0 AND (strpos(v.spelling, '-') = 0 OR strpos(t.lexeme, '-') > 0)
"""
)


def hyphenated(word: str) -> Iterator[str]:
    """The word with a hyphen added: "wifi" -> "w-ifi", "wi-fi", "wif-i"."""
    for cut in range(1, len(word)):
        yield word[:cut] + "-" + word[cut:]


def one_letter_off(word: str) -> Iterator[str]:
    """The spellings one letter edit away from `word` (a letter left out, added or changed,
    or two swapped)."""
    for cut in range(len(word) + 1):
        head, tail = word[:cut], word[cut:]
        if tail:
            yield head + tail[1:]
            if len(tail) > 1:
                yield head + tail[1] + tail[0] + tail[2:]
        for letter in _LETTERS:
            yield head + letter + tail
            if tail:
                yield head + letter + tail[1:]


def _a_word(word: str, words: Container[str]) -> bool:
    """A word of `words`, or one of them inflected ("heals", "minified", "crawlers")."""
    if word in words:
        return True
    for ending in _INFLECTIONS:
        base = word.removesuffix(ending)
        # "acess" is no plural of "aces": an "s" ending takes none after it.
        if base.endswith("s") and ending in ("s", "es"):
            continue
        if base != word and len(base) >= MIN_HYPHENLESS_LETTERS - 1:
            doubled = base[:-1] if base[-1:] == base[-2:-1] else base
            undone = base[:-1] + "y" if base.endswith("i") else base
            if any(form in words for form in (base, base + "e", doubled, undone)):
                return True
    return False


def misspelling_candidates(question: str, terms: QuestionTerms) -> dict[str, list[str]]:
    """The question's words (lower-cased, first seen first) that may be misspelt, each with
    the spellings to try (see the module's rule); none when the question holds no unseen
    lexeme."""
    common = vocabulary()
    if not terms.unseen or not common:
        return {}
    small = terms.chunk_count < RARE_FROM_CHUNKS
    words = Lexicon(common, dictionary())
    names = set(proper_nouns(question))
    found: dict[str, list[str]] = {}
    for match in _WORD.finditer(question):
        word = match.group(0).lower()
        if word in found or word in names or not word.isalpha():
            continue
        tries: list[str] = [SHORTHAND[word]] if word in SHORTHAND else []
        if len(word) >= MIN_HYPHENLESS_LETTERS and not _a_word(word, common):
            tries += hyphenated(word)
        if small and len(word) >= MIN_LETTERS and not _a_word(word, words):
            tries += one_letter_off(word)
        if tries:
            found[word] = list(dict.fromkeys(tries))
    return dict(list(found.items())[:MAX_WORDS])


async def corrected_question(
    session: AsyncSession, chatbot_id: uuid.UUID, language: str, question: str, terms: QuestionTerms
) -> str:
    """The question with each misspelt word replaced by the sources' spelling (the question
    itself when there is none). English only, like the word lists that tell a word from a
    misspelling."""
    if language != VOCABULARY_LANGUAGE:
        return question
    candidates = misspelling_candidates(question, terms)
    if not candidates:
        return question
    pairs = [(word, spelling) for word, tries in candidates.items() for spelling in [word, *tries]]
    rows = await session.execute(
        _KNOWN_SPELLINGS,
        {
            "chatbot_id": chatbot_id,
            "language": language,
            "words": [word for word, _ in pairs],
            "spellings": [spelling for _, spelling in pairs],
        },
    )
    min_chunks = RARE_CHUNKS + 1 if terms.chunk_count >= RARE_FROM_CHUNKS else 1
    words = Lexicon(vocabulary(), dictionary())
    held: dict[str, list[tuple[int, int, str]]] = {}
    typed = set()
    for word, spelling, lexeme, chunks in rows.all():
        if spelling == word:
            typed.add(word)  # the sources hold it as typed
            continue
        shorthand = SHORTHAND.get(word) == spelling
        if chunks >= min_chunks and (
            shorthand or "-" in spelling or lexeme == spelling or _a_word(spelling, words)
        ):
            kind = 2 if shorthand else int("-" in spelling)
            held.setdefault(word, []).append((kind, int(chunks), spelling))
    for word, spellings in held.items():
        if word not in typed:
            pattern = re.compile(_WORD_BOUNDARY.format(re.escape(word)), re.IGNORECASE)
            question = pattern.sub(max(spellings)[2], question)
    return question
