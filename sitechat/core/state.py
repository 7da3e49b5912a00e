"""The application's shared objects, in one typed state built by `create_app` and its lifespan.

`app.state` is an `AppState`: the framework pieces every domain may use are typed attributes
(settings, database, rate limiter, mailer...), and a domain's own shared object (the credential
caches, the chat runtime, the billing gateway...) is a *component*, stored and found by its
type, so that `core` needs to know no domain:

    runtime = app_state(request).component(ChatRuntime)

Nothing is built on first use: a missing component is a start-up bug and raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    import asyncpg
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from sitechat.config import Settings
    from sitechat.core.login_throttle import LoginThrottle
    from sitechat.core.mail import Mailer
    from sitechat.core.ratelimit import RateLimiter, RateLimitSubjects

ComponentT = TypeVar("ComponentT")


class AppState(State):
    settings: Settings
    trusted_proxies: frozenset[str]
    mailer: Mailer
    # Set by the lifespan.
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_pool: asyncpg.Pool
    read_sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    rate_limiter: RateLimiter | None
    rate_limit_subjects: RateLimitSubjects | None
    login_guard: LoginThrottle | None

    def __init__(self, settings: Settings, mailer: Mailer) -> None:
        super().__init__(
            {
                "settings": settings,
                "trusted_proxies": frozenset(settings.http.trusted_proxies),
                "mailer": mailer,
                "redis": None,
                "rate_limiter": None,
                "rate_limit_subjects": None,
                "login_guard": None,
                "components": {},
            }
        )

    def provide(self, component: object) -> None:
        """Register (or replace, in tests) the app's one object of `type(component)`."""
        self._state["components"][type(component)] = component

    def component(self, kind: type[ComponentT]) -> ComponentT:
        components: dict[type[Any], Any] = self._state["components"]
        try:
            found: ComponentT = components[kind]
        except KeyError:
            raise LookupError(f"the app has no {kind.__name__}; create_app provides it") from None
        return found


def app_state(source: FastAPI | HTTPConnection) -> AppState:
    """The typed state of the app `source` is (or belongs to)."""
    app = source if isinstance(source, FastAPI) else source.app
    state = app.state
    if not isinstance(state, AppState):
        raise TypeError("the app was not made by sitechat.app.create_app")
    return state
