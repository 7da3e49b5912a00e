"""Greetings, thanks and goodbyes: a visitor's courtesy is not a question about the site.

"hi" and "thanks!" searched the sources like any question and got the fallback ("I couldn't
find that on this site"), and analytics listed them among the unanswered questions. A message
that is nothing but courtesy (`small_talk_reply`) is answered with a courtesy of the chatbot's:
its welcome message for a greeting, when it has one. Anything more ("hi, do you deliver?") is a
question and is answered as one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from sitechat.chat.answerer import (
    AnswerEvent,
    AnswerMeta,
    AnswerSettings,
    CitationsReady,
    TextDelta,
    estimated_usage,
)

_GREETING = r"hi|hii+|hello|hey|heya|hiya|howdy|yo|good (?:morning|afternoon|evening|day)"
_ACKNOWLEDGED = r"ok|okay|great|perfect|cool|awesome|brilliant|lovely|nice|got it|i see"
_THANKS = (
    r"thanks?|thank you|thanks a lot|thank you so much|many thanks|thx|ty|cheers|ta"
    rf"|(?:{_ACKNOWLEDGED}),? (?:thanks?|thank you|cheers)"
)
_GOODBYE = r"bye|goodbye|bye bye|see you|see ya|have a (?:nice|good) day"
# The whole message, give or take "there", a name-less "folks", punctuation and emoji.
_FRAME = r"^\W*(?:{words})(?:\s+(?:there|all|folks|again|very much|so much))?[\W\d_]*$"
_KINDS = (
    ("greeting", re.compile(_FRAME.format(words=_GREETING), re.IGNORECASE)),
    ("thanks", re.compile(_FRAME.format(words=_THANKS), re.IGNORECASE)),
    ("goodbye", re.compile(_FRAME.format(words=_GOODBYE), re.IGNORECASE)),
    ("acknowledged", re.compile(_FRAME.format(words=_ACKNOWLEDGED), re.IGNORECASE)),
)
GREETING_REPLY = "Hello! What would you like to know?"
THANKS_REPLY = "You're welcome! Is there anything else I can help with?"
GOODBYE_REPLY = "Goodbye, and thanks for stopping by!"
ACKNOWLEDGED_REPLY = "Is there anything else I can help with?"
_REPLIES = {"thanks": THANKS_REPLY, "goodbye": GOODBYE_REPLY, "acknowledged": ACKNOWLEDGED_REPLY}


def small_talk_reply(message: str, welcome_message: str = "") -> str | None:
    """The chatbot's reply when the visitor's whole message is a greeting, thanks, goodbye or
    "ok"; None for anything else."""
    text = " ".join(message.split())
    for kind, pattern in _KINDS:
        if pattern.match(text):
            if kind == "greeting":
                return welcome_message.strip() or GREETING_REPLY
            return _REPLIES[kind]
    return None


async def small_talk_answer(
    message: str, reply: str, settings: AnswerSettings
) -> AsyncIterator[AnswerEvent]:
    """The events of a courtesy reply: no sources, and no fallback (nothing was asked)."""
    yield TextDelta(reply)
    yield CitationsReady([])
    yield AnswerMeta(fallback=False)
    yield estimated_usage(message, [], reply, settings.model)
