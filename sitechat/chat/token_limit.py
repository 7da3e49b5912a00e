"""An answer cut to a number of tokens, as OpenAI's `max_tokens` cuts a completion.

Tokens are counted as `usage` estimates them (`answerer.estimate_tokens`), whichever answerer
wrote the text, and the cut falls between words: a word still arriving is held back until the
next delta tells where it ends. The estimate never spans whitespace, so a text's count is the
sum of its words' counts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

from sitechat.chat.answerer import (
    AnswerEvent,
    Citation,
    CitationsReady,
    TextDelta,
    Usage,
    estimate_tokens,
)

_WORD = re.compile(r"\s*\S+")
_MARKER = re.compile(r"\[(\d{1,3})\]")


class TokenLimit:
    """Passes an answer's events through with its text cut after `max_tokens`; `cut` says
    whether it was (OpenAI's `finish_reason: "length"`)."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.cut = False
        self._pending = ""  # received, not yet sent: the last word may go on
        self._sent: list[str] = []
        self._tokens = 0

    async def apply(self, events: AsyncIterator[AnswerEvent]) -> AsyncIterator[AnswerEvent]:
        async for event in events:
            if isinstance(event, TextDelta):
                if text := self._feed(event.text, final=False):
                    yield TextDelta(text)
                continue
            if text := self._feed("", final=True):
                yield TextDelta(text)
            if isinstance(event, CitationsReady) and self.cut:
                yield CitationsReady(self._still_cited(event.citations))
            elif isinstance(event, Usage) and self.cut:
                # What was returned, not what the answerer wrote.
                yield replace(event, completion_tokens=self._tokens, estimated=True)
            else:
                yield event
        if text := self._feed("", final=True):
            yield TextDelta(text)

    def _feed(self, text: str, *, final: bool) -> str:
        if self.cut:
            return ""
        self._pending += text
        sent = 0
        for word in _WORD.finditer(self._pending):
            if word.end() == len(self._pending) and not final:
                break
            tokens = estimate_tokens(word.group())
            if self._tokens + tokens > self.max_tokens:
                self.cut = True
                break
            self._tokens += tokens
            sent = word.end()
        if final and not self.cut:
            sent = len(self._pending)  # the whitespace after the last word too
        out, self._pending = self._pending[:sent], self._pending[sent:]
        self._sent.append(out)
        return out

    def _still_cited(self, citations: list[Citation]) -> list[Citation]:
        numbers = {int(number) for number in _MARKER.findall("".join(self._sent))}
        return [citation for citation in citations if citation.number in numbers]
