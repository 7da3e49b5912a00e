"""Response caching rules that routes declare.

Responses that carry a credential (token pairs, a new API key, an invitation token) must never
be stored by a browser, a proxy or a CDN: such routes add `dependencies=[NO_STORE]`.
"""

from __future__ import annotations

from fastapi import Depends, Response

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _no_store(response: Response) -> None:
    # Set on the route's response object, so the header reaches the answer FastAPI sends.
    response.headers.update(NO_STORE_HEADERS)


NO_STORE = Depends(_no_store)
