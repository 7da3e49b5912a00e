"""Chatbot and source errors with stable problem types."""

from __future__ import annotations

import uuid

from sitechat.core.errors import Conflict, InvalidStateTransition, UnprocessableEntity
from sitechat.models.chatbots import ChatbotStatus


class ChatbotStateConflict(InvalidStateTransition):
    """A lifecycle move the transition table does not allow (409 `invalid-state-transition`)."""

    def __init__(self, current: ChatbotStatus, target: ChatbotStatus, why: str = "") -> None:
        detail = f"A chatbot cannot go from {current.value} to {target.value}."
        if why:
            detail = f"{detail} {why}"
        super().__init__(detail, extra={"from": current.value, "to": target.value})


class InvalidCursor(UnprocessableEntity):
    slug = "invalid-cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this list handed out.")


class CrawlInProgress(Conflict):
    slug = "crawl-in-progress"
    title = "A crawl is already in progress"

    def __init__(self, running_crawl_id: uuid.UUID) -> None:
        super().__init__(
            "This chatbot already has a queued or running crawl; cancel it or wait for it.",
            extra={"running_crawl_id": str(running_crawl_id)},
        )
