"""Lead capture's domain errors, each with a stable problem type."""

from __future__ import annotations

from collections.abc import Sequence

from sitechat.core.errors import Conflict, ProblemError, UnprocessableEntity


class LeadCaptureDisabled(Conflict):
    slug = "lead-capture-disabled"
    title = "Lead capture disabled"

    def __init__(self) -> None:
        super().__init__("This chatbot does not collect contacts.")


class LeadFieldsMissing(UnprocessableEntity):
    slug = "lead-fields-missing"
    title = "Lead fields missing"

    def __init__(self, missing: Sequence[str]) -> None:
        super().__init__(
            f"This chatbot asks for: {', '.join(missing)}.",
            extra={"missing_fields": list(missing)},
        )


class TooManyLeadSubmissions(ProblemError):
    status = 429
    slug = "too-many-lead-submissions"
    title = "Too many submissions"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A conversation's contact can be sent at most {limit} times.",
            extra={"limit": limit},
        )
