"""Prometheus series of billing: invoices issued and charges, failed ones by code."""

from __future__ import annotations

from prometheus_client import Counter

INVOICES = Counter("sitechat_billing_invoices", "Invoices issued, by reason", ["reason"])
PAYMENTS = Counter(
    "sitechat_billing_payments", "Charges attempted, by status (succeeded, failed, ...)", ["status"]
)
PAYMENT_FAILURES = Counter(
    "sitechat_billing_payment_failures", "Charges that failed, by failure code", ["code"]
)


def record_invoice(reason: str) -> None:
    INVOICES.labels(reason).inc()


def record_payment(status: str, failure_code: str | None) -> None:
    PAYMENTS.labels(status).inc()
    if status == "failed":
        PAYMENT_FAILURES.labels(failure_code or "unknown").inc()
