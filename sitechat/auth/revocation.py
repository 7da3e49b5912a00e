"""Revoked credentials stop working at once in every process, at no cost to a read.

The caller lookups (API keys; memberships with their session) are cached per process for
`CREDENTIAL_CACHE_SECONDS` (`auth/dependencies.py`), so an authenticated read runs no
credential query. A change that takes access away (an API key revoked, a member removed or
given another role, a session signed out, a password changed or reset, an account deleted)
calls `announce_revocation` in its own transaction: a `NOTIFY` on `CHANNEL` that PostgreSQL
delivers to every process when, and only if, that transaction commits. Each process listens
on one connection (`core/notifications.py`) and drops its cached credentials when told.

While a process's listening connection is down its caches are bypassed (every request looks
its credential up) until it listens again; a process without the listener (a test app without
its lifespan) keeps the short TTL as its bound.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from sitechat.auth import repository
from sitechat.auth.dependencies import AuthState
from sitechat.core.notifications import ChannelListener

CHANNEL = "sitechat_credentials"


async def announce_revocation(session: AsyncSession) -> None:
    """Every process drops its cached credentials when this transaction commits."""
    await repository.notify(session, CHANNEL)


def revocation_listener(engine: AsyncEngine, auth: AuthState) -> ChannelListener:
    caches = (auth.key_cache, auth.membership_cache)

    def drop_cached(_payload: str = "") -> None:
        for cache in caches:
            cache.clear()

    def trust_caches() -> None:
        drop_cached()  # what was cached while not listening may be stale
        for cache in caches:
            cache.enabled = True

    def bypass_caches() -> None:
        for cache in caches:
            cache.enabled = False
            cache.clear()

    return ChannelListener(
        engine,
        CHANNEL,
        on_notification=drop_cached,
        on_listening=trust_caches,
        on_lost=bypass_caches,
    )
