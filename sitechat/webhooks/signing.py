"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver verifies.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is the base64
HMAC-SHA256 of it under the secret's key (the base64 part of `whsec_...`), sent as
`webhook-signature: v1,<signature>`. During a rotation's overlap the header carries one
signature per valid secret, space-separated, the new secret's first (`v1,<new> v1,<old>`): the
specification's list for zero-downtime rotation, where a receiver accepts any one that matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    signing_secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of a delivery signed with each of `signing_secrets` (the current first)."""
    signatures = " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
