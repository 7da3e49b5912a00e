"""The process's shared objects, in one typed state built once at start: `AppState` for
requests, `TaskContext` for jobs.

`app.state` is an `AppState`: the framework pieces every domain may use are typed attributes
(settings, database, rate limiter...), and a domain's own shared object (the credential
caches, the chat runtime, the plan catalog, the payment gateway, dense retrieval...) is a
*component*, stored and found by its type, so that `core` needs to know no domain:

    runtime = app_state(request).component(ChatRuntime)

A job gets the `TaskContext` of the worker that runs it (procrastinate's job context carries
it; a task takes `job: JobContext` and calls `task_context(job)`): the settings, a session
factory, the mailer, and the same components. In the API process the in-process worker's
context shares the app's components, so a job and a request see the same objects.

Nothing is built on first use and nothing lives in a module global: `create_app`, its
lifespan and `sitechat worker` build everything; a missing component is a start-up bug and
raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from procrastinate import JobContext
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

TASK_CONTEXT_KEY = "sitechat"
"""Where a worker's `additional_context` holds its `TaskContext`."""


class Components:
    """A process's domain objects, one of each type, provided at start."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], Any] = {}

    def provide(self, component: object) -> None:
        """Register (or replace, in tests) the process's one object of `type(component)`."""
        self._by_type[type(component)] = component

    def get(self, kind: type[ComponentT]) -> ComponentT:
        try:
            found: ComponentT = self._by_type[kind]
        except KeyError:
            raise LookupError(f"no {kind.__name__} was provided at start") from None
        return found


@dataclass(frozen=True)
class TaskContext:
    """What a job needs from the process it runs in, built once when the worker starts."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    mailer: Mailer
    components: Components

    def component(self, kind: type[ComponentT]) -> ComponentT:
        return self.components.get(kind)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends without an error."""
        async with self.sessionmaker() as session, session.begin():
            yield session


def worker_context(context: TaskContext) -> dict[str, Any]:
    """The `additional_context` a worker hands to every job it runs."""
    return {TASK_CONTEXT_KEY: context}


def task_context(job: JobContext) -> TaskContext:
    """The context of the worker running `job`."""
    context = job.additional_context.get(TASK_CONTEXT_KEY)
    if not isinstance(context, TaskContext):
        raise RuntimeError("the worker has no TaskContext; start it through sitechat")
    return context


class AppState(State):
    settings: Settings
    trusted_proxies: frozenset[str]
    components: Components
    # Set by the lifespan.
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_pool: asyncpg.Pool
    read_sessionmaker: async_sessionmaker[AsyncSession]
    task_context: TaskContext
    """The jobs' view of this process (its in-process worker's, and tests')."""
    redis: Redis | None
    rate_limiter: RateLimiter | None
    rate_limit_subjects: RateLimitSubjects | None
    login_guard: LoginThrottle | None

    def __init__(self, settings: Settings, components: Components) -> None:
        super().__init__(
            {
                "settings": settings,
                "trusted_proxies": frozenset(settings.http.trusted_proxies),
                "components": components,
                "redis": None,
                "rate_limiter": None,
                "rate_limit_subjects": None,
                "login_guard": None,
            }
        )

    def provide(self, component: object) -> None:
        """Register (or replace, in tests) the app's one object of `type(component)`; the
        jobs of this process see it too (they share the components)."""
        self.components.provide(component)

    def component(self, kind: type[ComponentT]) -> ComponentT:
        return self.components.get(kind)


def app_state(source: FastAPI | HTTPConnection) -> AppState:
    """The typed state of the app `source` is (or belongs to)."""
    app = source if isinstance(source, FastAPI) else source.app
    state = app.state
    if not isinstance(state, AppState):
        raise TypeError("the app was not made by sitechat.app.create_app")
    return state
