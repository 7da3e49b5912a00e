"""Chat's domain errors, each with a stable problem type."""

from __future__ import annotations

from sitechat.core.errors import (
    Conflict,
    Forbidden,
    InvalidStateTransition,
    NotFound,
    UnprocessableEntity,
)


class ChatbotNotReady(Conflict):
    slug = "chatbot-not-ready"
    title = "Chatbot not ready"

    def __init__(self, status: str) -> None:
        super().__init__(
            f"The chatbot is {status}; only a ready chatbot answers questions.",
            extra={"chatbot_status": status},
        )


class OriginNotAllowed(Forbidden):
    slug = "origin-not-allowed"
    title = "Origin not allowed"

    def __init__(self) -> None:
        super().__init__("This origin is not among the chatbot's allowed origins.")


class FeedbackNeedsAnswer(UnprocessableEntity):
    slug = "feedback-needs-answer"

    def __init__(self) -> None:
        super().__init__("Feedback can only be given on an assistant's answer.")


class ConversationNotHandedOff(InvalidStateTransition):
    def __init__(self) -> None:
        super().__init__(
            "Agent replies go to a conversation handed off to a person: request the hand-off "
            "first (POST /v1/conversations/{id}/handoff).",
            extra={"conversation_status": "active"},
        )


class HandoffDisabled(Conflict):
    slug = "handoff-disabled"
    title = "Hand-off disabled"

    def __init__(self) -> None:
        super().__init__("This chatbot does not hand conversations to a person.")


class ModelNotFound(NotFound):
    """An OpenAI-compatible `model` that names none of the workspace's chatbots: says how to
    name one, since SDK users arrive with `gpt-4o` or a bare chatbot id."""

    def __init__(self) -> None:
        # Past NotFound's "<what> not found.", to a detail of its own.
        super(NotFound, self).__init__(
            "Model not found. A model is named `chatbot:<id>` with the id of one of this "
            "workspace's chatbots; GET /v1/models lists them.",
        )
