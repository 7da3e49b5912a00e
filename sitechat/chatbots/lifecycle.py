"""The chatbot lifecycle: every allowed status change, in one table.

`draft -> training -> ready` is driven by the system (a crawl starts, a crawl ends, a text or
Q&A source gets indexed); pausing, resuming and archiving are what users may ask for with
`PATCH /chatbots/{id}`. Anything not in the table is a 409 `invalid-state-transition`.
"""

from __future__ import annotations

from enum import StrEnum

from sitechat.chatbots.errors import ChatbotStateConflict
from sitechat.models.chatbots import Chatbot, ChatbotStatus


class Actor(StrEnum):
    user = "user"  # asked for through the API
    system = "system"  # a consequence of crawling or indexing


_S = ChatbotStatus
TRANSITIONS: dict[tuple[ChatbotStatus, ChatbotStatus], Actor] = {
    (_S.draft, _S.training): Actor.system,  # a crawl starts
    (_S.draft, _S.ready): Actor.system,  # a text / Q&A source was indexed
    (_S.training, _S.ready): Actor.system,  # the crawl ended and there are chunks
    (_S.training, _S.draft): Actor.system,  # the crawl ended with nothing indexed
    (_S.ready, _S.training): Actor.system,  # a re-crawl starts
    (_S.ready, _S.paused): Actor.user,
    (_S.paused, _S.ready): Actor.user,
    (_S.draft, _S.archived): Actor.user,
    (_S.training, _S.archived): Actor.user,
    (_S.ready, _S.archived): Actor.user,
    (_S.paused, _S.archived): Actor.user,
}


def can_transition(current: ChatbotStatus, target: ChatbotStatus, actor: Actor) -> bool:
    allowed_actor = TRANSITIONS.get((current, target))
    return allowed_actor is not None and (actor is Actor.system or allowed_actor is Actor.user)


def transition(chatbot: Chatbot, target: ChatbotStatus, actor: Actor) -> None:
    """Move `chatbot` to `target`, or raise the 409 naming both states.

    The system may make every move in the table; users only the ones marked `user`.
    """
    current = chatbot.status
    if current == target:
        return
    if not can_transition(current, target, actor):
        why = ""
        if (current, target) in TRANSITIONS:
            why = "That change happens on its own when crawling or indexing finishes."
        raise ChatbotStateConflict(current, target, why)
    chatbot.status = target


def settle_after_training(chatbot: Chatbot, *, has_chunks: bool) -> None:
    """When a crawl ends: ready if anything is searchable, else back to draft.

    Only a chatbot still `training` moves; one archived meanwhile stays archived.
    """
    if chatbot.status is ChatbotStatus.training:
        transition(chatbot, _S.ready if has_chunks else _S.draft, Actor.system)
