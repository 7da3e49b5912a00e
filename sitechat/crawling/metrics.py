"""Prometheus series of crawls (served by `/metrics` of the process that runs the jobs)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CRAWL_PAGES = Counter(
    "sitechat_crawl_pages",
    "Pages crawls handled, by outcome (indexed, skipped, failed)",
    ["outcome"],
)
CRAWLS_FINISHED = Counter(
    "sitechat_crawls_finished",
    "Crawl jobs that ended, by status (completed, failed, cancelled)",
    ["status"],
)
CRAWL_DURATION = Histogram(
    "sitechat_crawl_duration_seconds",
    "Wall time of a crawl job from its start to its end",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)


def record_page(outcome: str) -> None:
    CRAWL_PAGES.labels(outcome).inc()


def record_crawl_finished(status: str, seconds: float | None) -> None:
    CRAWLS_FINISHED.labels(status).inc()
    if seconds is not None and seconds >= 0:
        CRAWL_DURATION.observe(seconds)
