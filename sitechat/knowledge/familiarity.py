"""Which words of a question name something the chatbot's sources do not know.

A visitor asking a documentation bot about something else names it: "pytorch", "Patroni",
"pgbouncer", "Heroku". The name is missing from the sources (or appears once or twice, in a
changelog or a list of links), and it is not an ordinary English word. Those two facts are
cheap to know: retrieval already reads each question lexeme's document frequency in the
chatbot's chunks (`QuestionTerms`), and the local embedder ships a vocabulary of common words
(all-MiniLM-L6-v2's uncased WordPiece vocabulary, whose whole words are the language's common
words). A visitor's own ordinary words that the sources happen not to use ("throwaway",
"subfolders", "climbing") are words of that vocabulary, with or without a common affix, or two
of them joined; numbers and literal values ("0.30000000000000004", "5gb", "007") are not names.

A small site's sources use few of the language's words, so a visitor's everyday word is often
absent from them while not common enough for the embedder's vocabulary ("voucher", "login",
"mouldy"): below `RARE_FROM_CHUNKS` chunks a word of an English dictionary (GCIDE, from the
`english-words` package) is ordinary too. Large sources keep the stricter test: a dictionary
word they never use is often another product's name there ("flask", "selenium" on the Python
docs). A contraction typed without its apostrophe ("dont") is a word everywhere.

An identifier ("pg_partman") names something unknown when a part of it is unknown to the
sources too; one made of words the sources use ("end_date", "updated_at") is the visitor's own
column.

A word the visitor capitalises in mid-sentence ("Azure", "Google Cloud SQL") is a name even
when it is also a word.

The answer flow (`chat/evidence.py`) refuses to answer a question naming such a term unless a
passage is very close to it in meaning: a question about pytorch is not answered by the
passage nearest to "train a neural network". Calibrated on the visitor question sets
(docs/decisions/0021-unfamiliar-terms-and-semantic-weight.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from functools import cache

from sitechat.knowledge.minilm import ModelUnavailable, model_dir
from sitechat.knowledge.repository import QuestionTerms

# A term held by at most this many chunks is as good as unknown, once the sources are large
# enough that an ordinary subject of theirs is held by more (a changelog's passing mention).
RARE_CHUNKS = 2
RARE_FROM_CHUNKS = 1_000
MIN_LETTERS = 3
# The vocabulary is English: another language's ordinary words are not in it, so its
# chatbots' questions are not judged.
VOCABULARY_LANGUAGE = "english"
# Two words joined ("throwaway", "birthdate"), the first this long: "pip" + "envy" is none.
MIN_COMPOUND_HEAD = 4
# Affixes an ordinary word takes, applied to a stemmed lexeme ("poetri" -> "poetry").
_PREFIXES = ("un", "sub", "re", "over", "per", "pre", "non", "multi", "auto")
_SUFFIXES = ("", "e", "s", "y", "es", "ed", "ing", "er", "ers", "able", "ly", "al")
_CONTRACTIONS_TEXT = """
    dont cant wont didnt doesnt isnt arent wasnt werent havent hasnt hadnt couldnt wouldnt
    shouldnt mustnt ive youre youve youll theyre theyve weve whats thats theres heres lets
"""
CONTRACTIONS = frozenset(_CONTRACTIONS_TEXT.split())
# "e-bike", "x-ray" and "check-up", "pick-up": on a small site the visitor often leaves the
# hyphen out. Large sources keep these as names ("xcode", "ebay", "linkedin", "xpath").
_LETTER_PREFIXES = ("e", "x")
_PARTICLES = ("up", "in", "out", "on", "off")
_NAME_LIKE = re.compile(r"[a-z][a-z0-9]+")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@cache
def vocabulary() -> frozenset[str]:
    """The embedder's whole words of at least three letters; empty when it is not installed
    (then no term is judged: the rule needs the vocabulary to tell a name from a word)."""
    try:
        tokenizer = json.loads((model_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    except (ModelUnavailable, OSError, ValueError):
        return frozenset()
    words = tokenizer.get("model", {}).get("vocab", {})
    return frozenset(w for w in words if w.isalpha() and len(w) >= MIN_LETTERS)


@cache
def dictionary() -> frozenset[str]:
    """An English dictionary's words (lower-case letters only) and the contractions typed
    without an apostrophe; only the contractions when the dictionary is not installed.
    GCIDE: 114,000 words, ~19 MB (Webster's 1934 list beside it would take 90 MB more)."""
    try:
        from english_words import get_english_words_set
    except ImportError:
        return CONTRACTIONS
    return frozenset(get_english_words_set(["gcide"], lower=True, alpha=True)) | CONTRACTIONS


def load_word_lists() -> None:
    """Read both word lists now (an API process, at start), not on a first question; a job
    worker, which answers no question, never reads them."""
    vocabulary()
    dictionary()


class Lexicon:
    """Words of any of a few word lists (without building their union)."""

    def __init__(self, *lists: frozenset[str]) -> None:
        self._lists = lists

    def __contains__(self, word: object) -> bool:
        return any(word in words for words in self._lists)


def ordinary_words(chunk_count: int) -> Container[str]:
    """The words a chatbot of `chunk_count` chunks takes for ordinary ones: the embedder's
    vocabulary, and on a small site the dictionary's words too."""
    large = chunk_count >= RARE_FROM_CHUNKS
    return Lexicon(vocabulary(), CONTRACTIONS if large else dictionary())


def _is_word(lexeme: str, words: Container[str]) -> bool:
    # The stemmer turns a final "y" into "i" ("poetry" -> "poetri") and drops a doubled
    # consonant ("install" -> "instal").
    stems = (lexeme, lexeme + lexeme[-1:], lexeme[:-1] + "y" if lexeme.endswith("i") else "")
    return any(stem + suffix in words for stem in stems if stem for suffix in _SUFFIXES)


def ordinary_word(lexeme: str, words: Container[str], hyphenless: bool = False) -> bool:
    """A word of the vocabulary, maybe with a common affix, or two words joined; with
    `hyphenless`, a word typed without its hyphen too ("ebike" for "e-bike", "checkup")."""
    if _is_word(lexeme, words):
        return True
    if hyphenless and _without_hyphen(lexeme, words):
        return True
    for prefix in _PREFIXES:
        rest = lexeme.removeprefix(prefix)
        if rest != lexeme and len(rest) >= MIN_LETTERS and _is_word(rest, words):
            return True
    return any(
        lexeme[:cut] in words and _is_word(lexeme[cut:], words)
        for cut in range(MIN_COMPOUND_HEAD, len(lexeme) - MIN_LETTERS + 1)
    )


def _without_hyphen(lexeme: str, words: Container[str]) -> bool:
    if lexeme[:1] in _LETTER_PREFIXES and len(lexeme) > MIN_LETTERS and _is_word(lexeme[1:], words):
        return True
    return any(
        len(head := lexeme.removesuffix(particle)) >= MIN_COMPOUND_HEAD
        and head != lexeme
        and _is_word(head, words)
        for particle in _PARTICLES
    )


def proper_nouns(question: str) -> list[str]:
    """The question's capitalised words after its first, lower-cased: "Azure", "Google"."""
    return [word.lower() for word in _WORD.findall(question)[1:] if word[0].isupper()]


def unfamiliar_terms(
    terms: QuestionTerms, question: str, language: str = VOCABULARY_LANGUAGE
) -> tuple[str, ...]:
    """The question's name-like lexemes the chatbot's sources do not know, sorted: not an
    ordinary word, or written as a proper noun ("Azure" is a word of the vocabulary)."""
    vocabulary_words = vocabulary()
    if not vocabulary_words or language != VOCABULARY_LANGUAGE:
        return ()
    large = terms.chunk_count >= RARE_FROM_CHUNKS
    rare = RARE_CHUNKS if large else 0
    # A contraction typed without its apostrophe is a word on any site.
    words = ordinary_words(terms.chunk_count)
    candidates = set(terms.unseen) | {t for t, n in terms.frequencies.items() if n <= rare}
    names = proper_nouns(question)
    return tuple(
        sorted(
            term
            for term in candidates
            if (
                _NAME_LIKE.fullmatch(term)
                and sum(c.isalpha() for c in term) >= MIN_LETTERS
                # A lexeme is its word's stem: "azur" for "Azure".
                and (
                    not ordinary_word(term, words, hyphenless=not large)
                    or any(n.startswith(term) for n in names)
                )
            )
            or (_IDENTIFIER.fullmatch(term) and _unknown_part(term, candidates))
        )
    )


def _unknown_part(identifier: str, unknown: set[str]) -> bool:
    """Whether a part of an identifier is unknown to the sources too: "pg_partman" names an
    extension the docs never mention; "end_date" or "updated_at" is the visitor's own column,
    made of words the sources use."""
    return any(
        part in unknown
        for part in identifier.split("_")
        if sum(c.isalpha() for c in part) >= MIN_LETTERS
    )
