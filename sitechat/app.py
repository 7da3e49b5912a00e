"""create_app(): middleware, routers, exception handlers and the lifespan of shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from sitechat.api import add_v1_routes, refuse_dependency_overrides
from sitechat.auth.dependencies import AuthState, build_auth_state
from sitechat.auth.rate_limits import CallerRateLimitSubjects
from sitechat.auth.revocation import revocation_listener
from sitechat.billing.plans import DEFAULT_PLAN_ID, PlanCatalog, UnknownPlanError
from sitechat.chat.answering import ChatRuntime
from sitechat.chat.dependencies import build_answerer
from sitechat.chat.openai_errors import OpenAIErrorEnvelope
from sitechat.chat.public import verified_visitor
from sitechat.chat.streaming import KEEPALIVE_SECONDS
from sitechat.config import Environment, Settings
from sitechat.core.db import (
    create_engine,
    create_read_pool,
    create_read_sessionmaker,
    create_sessionmaker,
    libpq_url,
)
from sitechat.core.embedded_db import EmbeddedPostgres
from sitechat.core.errors import install_exception_handlers
from sitechat.core.logging import configure_logging
from sitechat.core.login_throttle import LoginThrottle
from sitechat.core.middleware import MiddlewareConfig, RequestContextMiddleware
from sitechat.core.ratelimit import RateLimiter, RateLimitPolicy, RouteClass
from sitechat.core.routing import API_PREFIX, index_routes
from sitechat.core.state import AppState, app_state, worker_context
from sitechat.crawling.events import StreamTiming
from sitechat.knowledge.familiarity import load_word_lists
from sitechat.ops.docs import API_DESCRIPTION, add_docs_routes
from sitechat.ops.router import router as ops_router
from sitechat.process import provide_dense_retrieval, start_components, start_task_context
from sitechat.sources.router import UPLOAD_ROUTES
from sitechat.widget.router import router as widget_router
from sitechat.worker.queue import connected_queue, queue
from sitechat.worker.runner import run_worker

log = structlog.get_logger()

PUBLIC_PREFIX = f"{API_PREFIX}/public/"


def _database_url(settings: Settings) -> str:
    """The configured database, or the embedded one that `sitechat serve` started for this
    data folder (its API worker processes find it there, not through the environment)."""
    url = settings.db.url or EmbeddedPostgres(settings.data_dir).running_url()
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set and no embedded PostgreSQL runs for SITECHAT_DATA_DIR; "
            "start the service with `sitechat serve`"
        )
    return url


async def _run_worker(state: AppState) -> None:
    # uvicorn owns the signals; the lifespan's end cancels this task (see `_stop_worker`).
    settings = state.settings
    await run_worker(
        queue,
        context=worker_context(state.task_context),
        settings=settings.worker,
        concurrency=settings.worker.concurrency,
        name="in-process",
        install_signal_handlers=False,
    )


async def _stop_worker(worker: asyncio.Task[None]) -> None:
    """Cancelling makes procrastinate stop fetching and wait for running jobs (bounded);
    jobs still running then go back to the queue (`sitechat/worker/runner.py`)."""
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker


async def _close_answerer(state: AppState) -> None:
    await state.component(ChatRuntime).answerer.aclose()


class ApiCorsMiddleware(CORSMiddleware):
    """CORS for the configured API origins; the widget's public routes answer their own
    preflights with each chatbot's allowed origins (`sitechat/chat/public.py`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    refuse_dependency_overrides(app)
    state = app_state(app)
    settings = state.settings
    url = _database_url(settings)
    engine = create_engine(url, settings.db)
    state.engine = engine
    state.sessionmaker = create_sessionmaker(engine)
    state.provide(
        ChatRuntime(
            answerer=build_answerer(settings.llm),
            sessionmaker=state.sessionmaker,
            keepalive_seconds=KEEPALIVE_SECONDS,
        )
    )
    state.task_context = start_task_context(settings, state.sessionmaker, state.components)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(_close_answerer, state)
        state.read_pool = await create_read_pool(engine, settings.db)
        stack.push_async_callback(state.read_pool.close)
        state.read_sessionmaker = create_read_sessionmaker(engine, state.read_pool)
        # Revoked keys, members and sessions: every process drops its cached credentials.
        revocations = revocation_listener(engine, state.component(AuthState))
        await revocations.start()
        stack.push_async_callback(revocations.stop)
        # Dense retrieval: on only with an embedder AND pgvector; logs which it is.
        await stack.enter_async_context(provide_dense_retrieval(state.components, engine, settings))
        if settings.redis.url:
            from redis.asyncio import Redis

            state.redis = Redis.from_url(settings.redis.url)
            stack.push_async_callback(state.redis.aclose)
        if settings.ratelimit.enabled:
            limiter = build_rate_limiter(settings)
            state.rate_limiter = limiter
            state.login_guard = LoginThrottle(limiter.storage)
            stack.push_async_callback(limiter.close)
        await stack.enter_async_context(connected_queue(libpq_url(url)))
        if settings.worker.in_process:
            worker = asyncio.create_task(_run_worker(state), name="sitechat-worker")
            stack.push_async_callback(_stop_worker, worker)
        log.info("app.started", env=settings.env.value, worker=settings.worker.in_process)
        _freeze_startup_objects()
        yield
    log.info("app.stopped")


def _freeze_startup_objects() -> None:
    """Keep what startup built (modules, the app, models, schemas: about 250,000 objects) out
    of the garbage collector's full passes.

    They live as long as the process, yet every full collection walked them all: about
    180 ms each on the 2-core dev box, a pause every few seconds under load, which showed as
    p99 latency in the hundreds of ms and a sixth of the CPU of an authenticated read.
    """
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    limits = settings.ratelimit
    policy = RateLimitPolicy(
        limits={
            RouteClass.AUTH: limits.auth,
            RouteClass.READ: limits.read,
            RouteClass.WRITE: limits.write,
            RouteClass.CHAT: limits.chat,
            RouteClass.CRAWL_START: limits.crawl_start,
            RouteClass.PUBLIC_WIDGET: limits.public_widget,
        }
    )
    return RateLimiter(
        settings.redis.url,
        policy,
        key_prefix=limits.key_prefix,
        storage_timeout_seconds=limits.storage_timeout_seconds,
    )


def rate_limit_subjects(plans: PlanCatalog) -> CallerRateLimitSubjects:
    """Who the rate limiter charges: verified callers by their credential and plan (the
    plan's `rate_limit_scale`), widget visitors by their conversation."""

    def visitor_conversation(request: Request) -> uuid.UUID | None:
        # Verified once per request: the widget route reads the same claims (`VisitorDep`).
        claims = verified_visitor(request)
        return claims.conversation_id if claims is not None else None

    def plan_scale(plan_id: str | None) -> int:
        try:
            return plans.get(plan_id or DEFAULT_PLAN_ID).rate_limit_scale
        except UnknownPlanError:  # a plan the operator's catalog no longer has
            return plans.get(DEFAULT_PLAN_ID).rate_limit_scale

    return CallerRateLimitSubjects(visitor_conversation=visitor_conversation, plan_scale=plan_scale)


def create_app(settings: Settings | None = None) -> FastAPI:
    # Read once: uvicorn makes the app once per worker process (`sitechat serve`).
    settings = settings or Settings()
    configure_logging(settings.log_level, cache_loggers=settings.env is not Environment.test)
    app = FastAPI(
        title="SiteChat API",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    # The catalog, the gateway (and, in the lifespan, dense retrieval): shared with the jobs.
    components = start_components(settings)
    load_word_lists()  # the unfamiliar-terms rule's, for the questions this process answers
    state = app.state = AppState(settings, components)
    state.provide(build_auth_state(settings))
    subjects = rate_limit_subjects(components.get(PlanCatalog))
    state.provide(subjects)  # typed for the WebSocket's charges; the rate limiter's below
    state.rate_limit_subjects = subjects
    state.provide(StreamTiming())
    install_exception_handlers(app)

    add_docs_routes(app)
    app.router.routes.extend(ops_router.routes)
    app.router.routes.extend(widget_router.routes)
    add_v1_routes(app)
    index_routes(app)
    if settings.http.cors_origins:
        app.add_middleware(
            ApiCorsMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-Workspace-ID"],
            expose_headers=[
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "RateLimit-Policy",
                "Retry-After",
            ],
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        config=MiddlewareConfig(
            max_body_bytes=settings.http.max_body_bytes,
            upload_routes=UPLOAD_ROUTES,
            max_upload_bytes=settings.sources.max_upload_bytes,
        ),
    )
    # Outermost, so the middleware's own refusals (413, 415) reach OpenAI clients as OpenAI errors.
    app.add_middleware(OpenAIErrorEnvelope)
    return app
