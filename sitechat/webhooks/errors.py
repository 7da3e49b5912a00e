"""Webhook errors with stable problem types."""

from __future__ import annotations

from sitechat.core.errors import Conflict, UnprocessableEntity


class UnsafeWebhookUrl(UnprocessableEntity):
    slug = "unsafe-url"
    title = "Unsafe URL"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(
            f"{detail[:1].upper()}{detail[1:]}. Webhook URLs must reach a public address; an "
            "operator can allow a host "
            "with SITECHAT_CRAWL_ALLOWED_HOSTS.",
            extra={"reason": reason},
        )


class TooManyWebhooks(Conflict):
    slug = "too-many-webhooks"
    title = "Too many webhook endpoints"

    def __init__(self, limit: int) -> None:
        super().__init__(f"A workspace can have at most {limit} webhook endpoints.")
