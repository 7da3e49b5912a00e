"""Prometheus series of answers: latency, fallbacks ("I don't know"), tokens."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ANSWER_DURATION = Histogram(
    "sitechat_answer_duration_seconds",
    "Time from the start of an answer to its storage, by status (complete, partial, failed)",
    ["status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ANSWER_FALLBACKS = Counter(
    "sitechat_answer_fallbacks", "Answers that gave the fallback message (sources did not hold it)"
)
ANSWER_TOKENS = Counter("sitechat_answer_tokens", "Tokens used by answers", ["kind"])


def record_answer(
    status: str,
    seconds: float,
    *,
    fallback: bool,
    prompt_tokens: int | None,
    completion_tokens: int | None,
) -> None:
    ANSWER_DURATION.labels(status).observe(seconds)
    if fallback:
        ANSWER_FALLBACKS.inc()
    if prompt_tokens:
        ANSWER_TOKENS.labels("prompt").inc(prompt_tokens)
    if completion_tokens:
        ANSWER_TOKENS.labels("completion").inc(completion_tokens)
