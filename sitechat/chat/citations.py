"""A model's `[n]` markers, rewritten as they stream: only sources it was shown are cited.

The model sees sources numbered 1..k. A marker naming a source it was not shown (`[7]` of 5)
is dropped from the text, with the space before it; valid ones are renumbered in order of
first use, so a visitor reads [1], [2]... as in an extractive answer, and each number is the
`number` of a citation. Markers may arrive split across deltas (`[`, `2]`): text that may still
become a marker is held back until it is decided.
"""

from __future__ import annotations

import re

_MARKER_BODY = re.compile(r"\d{1,3}(?:\s*,\s*\d{1,3})*")
# Longest marker body we wait for ("[12, 13, 14]"); beyond that the bracket is plain text.
MAX_MARKER_CHARS = 24


class CitationRewriter:
    """Feed deltas in, get the text to show out; `shown[i]` is the source numbered i + 1."""

    def __init__(self, source_count: int) -> None:
        self._source_count = source_count
        self.display_numbers: dict[int, int] = {}  # source number -> number shown
        self._held = ""  # a "[" and what followed it, not yet decided
        self._space = ""  # whitespace before a possible marker, dropped with it

    @property
    def cited_sources(self) -> list[int]:
        """Source numbers cited, in the order of their shown numbers."""
        return sorted(self.display_numbers, key=self.display_numbers.__getitem__)

    def feed(self, text: str) -> str:
        out: list[str] = []
        for char in text:
            if self._held:
                self._held += char
                if char == "]":
                    out.append(self._decide(self._held))
                    self._held = ""
                elif len(self._held) > MAX_MARKER_CHARS or not (char.isdigit() or char in ", "):
                    out.append(self._space + self._held)
                    self._held = self._space = ""
            elif char == "[":
                self._held = char
            elif char.isspace():
                self._space += char
            else:
                out.append(self._space + char)
                self._space = ""
        return "".join(out)

    def finish(self) -> str:
        """The text still held back when the stream ends."""
        rest = self._space + self._held
        self._held = self._space = ""
        return rest

    def _decide(self, marker: str) -> str:
        body = marker[1:-1]
        if not _MARKER_BODY.fullmatch(body):
            text = self._space + marker
            self._space = ""
            return text
        numbers = [int(part) for part in body.split(",")]
        valid = [n for n in numbers if 1 <= n <= self._source_count]
        if not valid:
            self._space = ""  # "...in the docs [7]." -> "...in the docs."
            return ""
        shown = []
        for number in valid:
            if number not in self.display_numbers:
                self.display_numbers[number] = len(self.display_numbers) + 1
            shown.append(self.display_numbers[number])
        text = self._space + "".join(f"[{n}]" for n in dict.fromkeys(shown))
        self._space = ""
        return text
