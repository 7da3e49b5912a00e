"""Crawl errors with stable problem types."""

from __future__ import annotations

from sitechat.core.errors import Conflict, ProblemError, UnprocessableEntity
from sitechat.models.crawling import CrawlStatus

# Reasons an operator can lift for a host of their own (an intranet or a local test site).
_OPERATOR_ALLOWABLE = frozenset({"private-address", "port-not-allowed"})


class UnsafeCrawlUrl(UnprocessableEntity):
    slug = "unsafe-url"
    title = "Unsafe URL"

    def __init__(self, reason: str, detail: str) -> None:
        if reason in _OPERATOR_ALLOWABLE:
            detail = (
                f"{detail.rstrip('.')}. SiteChat crawls public sites only; an operator can allow "
                "a host of their own with SITECHAT_CRAWL_ALLOWED_HOSTS."
            )
        super().__init__(detail, extra={"reason": reason})


# The crawl's own status goes by `crawl_status`: a problem's `status` is its HTTP status code.
class CrawlNotActive(Conflict):
    slug = "crawl-not-active"

    def __init__(self, status: CrawlStatus) -> None:
        super().__init__(
            f"The crawl is already {status.value}; only a queued or running crawl can be "
            "cancelled.",
            extra={"crawl_status": status.value},
        )


class CrawlNotRetryable(Conflict):
    slug = "crawl-not-retryable"

    def __init__(self, status: CrawlStatus) -> None:
        super().__init__(
            f"The crawl is {status.value}; only a failed or cancelled crawl can be retried.",
            extra={"crawl_status": status.value},
        )


class CrawlFieldInvalid(ProblemError):
    """A field that only the server's configuration can judge (the page cap), shaped like
    any other validation error."""

    status = 422
    slug = "validation-error"
    title = "Validation error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            "The request has invalid fields; see errors.",
            extra={"errors": [{"loc": ["body", field], "msg": message}]},
        )
