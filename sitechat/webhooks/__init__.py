"""Outbound webhooks: endpoints per workspace, signed deliveries, retries, a delivery log."""
