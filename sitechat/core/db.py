"""Engine, sessions and the one-commit-per-request route class.

Routers use `SessionDep`; services and repositories flush but never commit. `AutoCommitRoute`
writes the jobs buffered during the request into the same transaction (the queue is in the
same PostgreSQL) and commits once, after the handler returns and before the response is sent:
the data and its jobs are committed together or not at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import asyncpg
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy import Select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from starlette.responses import Response

from sitechat.config import DatabaseSettings
from sitechat.core.errors import ProblemError
from sitechat.core.state import app_state
from sitechat.worker.buffer import JobBuffer, write_jobs

_SESSION_STATE_KEY = "db_session"
_READ_POOL_KEY = "sitechat.read_pool"  # in `Session.info` of the read sessions
# As long as SQLAlchemy's pool waits for a connection by default.
READ_POOL_TIMEOUT_SECONDS = 30.0


def async_url(url: str) -> URL:
    """The SQLAlchemy asyncpg form of any PostgreSQL URL an operator may give us."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def libpq_url(url: str) -> str:
    """The plain `postgresql://` form that psycopg (the job queue) understands."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _server_settings(settings: DatabaseSettings) -> dict[str, str]:
    return {
        "statement_timeout": str(settings.statement_timeout_ms),
        "application_name": "sitechat",
    }


def create_engine(url: str, settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=False,
        echo=settings.echo,
        connect_args={"server_settings": _server_settings(settings)},
    )


async def create_read_pool(engine: AsyncEngine, settings: DatabaseSettings) -> asyncpg.Pool:
    """The connections `fetch_row` uses outside a transaction: an asyncpg pool of its own.

    The hottest read (`GET /v1/chatbots/{id}`) is one SELECT. Borrowing a connection from the
    engine's pool for it runs SQLAlchemy's checkout and return through two greenlet switches
    and the pool's bookkeeping, which cost more CPU than the query (bench/api). Only
    `fetch_row`'s single statements, outside any transaction, run on these connections, so
    there is no session state to clear when one comes back: the reset is asyncpg's local one
    (a connection left in a transaction is rolled back), without the query per release that
    asyncpg's default reset sends. Connections open on demand (`min_size=0`).
    """
    _, connect_kwargs = engine.dialect.create_connect_args(engine.url)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        **connect_kwargs,
        min_size=0,
        max_size=settings.read_pool_size,
        server_settings=_server_settings(settings),
        init=_install_json_codecs,
        reset=_nothing_to_reset,
    )
    return pool


async def _install_json_codecs(connection: asyncpg.Connection) -> None:
    """json/jsonb decoded to Python values, as on the engine's connections."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    return None


def create_sessionmaker(
    engine: AsyncEngine, *, read_pool: asyncpg.Pool | None = None
) -> async_sessionmaker[AsyncSession]:
    info = {} if read_pool is None else {_READ_POOL_KEY: read_pool}
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


def create_read_sessionmaker(
    engine: AsyncEngine, read_pool: asyncpg.Pool
) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET requests: autocommit, so a read costs its queries and no BEGIN/COMMIT;
    their `fetch_row` reads run on `read_pool` (see `create_read_pool`).

    A read that runs several statements does not see one snapshot; no GET needs that, and
    the two round trips it saves are a third of a primary-key read.
    """
    return create_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), read_pool=read_pool
    )


_READ_METHODS = frozenset({"GET", "HEAD"})

# What `create_engine` uses; its SQL has asyncpg's positional parameters ($1, $2...).
_ASYNCPG_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class PreparedSelect:
    """A Core SELECT compiled once, at import, to asyncpg's SQL; `fetch_row` runs it.

    For the hottest reads (a row by primary key for a response). SQLAlchemy's work per
    execution (cache key, compiled-cache lookup, cursor and result wrapping, ORM loading)
    costs more than the query's round trip: a sequential primary-key read measured 0.6-0.7 ms
    through the ORM and 0.2-0.3 ms sent as below, round trip included. The statement is written
    in Core, against the models' tables, so columns and tenancy scoping stay checked code.

    Parameters are `bindparam("name")`s given by name to `fetch_row`; their values go to
    asyncpg as they are (no SQLAlchemy bind processing: pass UUIDs, str, int, StrEnum). Rows
    come back as asyncpg decodes them, without SQLAlchemy's result processing: enums are their
    string values and JSON(B) is decoded (the engine installs that codec); validate the row
    into a schema.
    """

    sql: str
    parameter_names: tuple[str, ...]

    @classmethod
    def of(cls, statement: Select[Any]) -> PreparedSelect:
        compiled = statement.compile(dialect=_ASYNCPG_DIALECT)
        literal = sorted(name for name, value in compiled.params.items() if value is not None)
        if literal:
            raise ValueError(f"use bindparam() for every value; literal binds: {literal}")
        return cls(str(compiled), tuple(compiled.positiontup or ()))


async def fetch_row(
    session: AsyncSession, query: PreparedSelect, **params: object
) -> Mapping[str, Any] | None:
    """The first row of `query` as a mapping, or None.

    A session in a transaction (or one without a read pool) runs it on its own connection, so
    the read sees the request's writes; a read session outside a transaction runs it on its
    read pool (`create_read_pool`). Driver errors are raised as SQLAlchemy's `DBAPIError`,
    which the problem handlers turn into 503 (connection lost), 422 or 500 as for any other
    query, and a lost connection is discarded so no pool hands it out again.
    """
    arguments = [params[name] for name in query.parameter_names]
    read_pool: asyncpg.Pool | None = session.info.get(_READ_POOL_KEY)
    if read_pool is not None and not session.in_transaction():
        record = await _fetchrow_pooled(read_pool, query, arguments)
    else:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            record = await _fetchrow(driver, query, arguments)
        except DBAPIError as error:
            if error.connection_invalidated:
                await connection.invalidate(error.orig)
            raise
    return None if record is None else dict(record.items())


async def _fetchrow_pooled(
    pool: asyncpg.Pool, query: PreparedSelect, arguments: list[object]
) -> asyncpg.Record | None:
    try:
        driver: asyncpg.Connection = await pool.acquire(timeout=READ_POOL_TIMEOUT_SECONDS)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as error:
        # The server is down, starting up or shutting down, or every connection stayed busy.
        raise DBAPIError(
            query.sql, arguments, error, hide_parameters=True, connection_invalidated=True
        ) from error
    try:
        return await _fetchrow(driver, query, arguments)
    except DBAPIError as error:
        if error.connection_invalidated:
            # The pool replaces a closed connection on a later acquire; one that closed by
            # itself is already back in the pool (its proxy refuses the call).
            with contextlib.suppress(asyncpg.InterfaceError):
                driver.terminate()
        raise
    finally:
        # Shielded by asyncpg; a read cut short (the client went away) is waited out or the
        # connection closed, never handed out mid-protocol.
        await pool.release(driver)


async def _fetchrow(
    driver: asyncpg.Connection, query: PreparedSelect, arguments: list[object]
) -> asyncpg.Record | None:
    try:
        return await driver.fetchrow(query.sql, *arguments)
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ) as error:
        raise DBAPIError(
            query.sql,
            arguments,
            error,
            hide_parameters=True,
            connection_invalidated=_connection_lost(driver, error),
        ) from error


def _connection_lost(driver: asyncpg.Connection, error: BaseException) -> bool:
    # An `InternalClientError` is a protocol left in a state it cannot leave (a connection
    # cut mid-operation while the server shuts down): unusable, whether or not it says closed.
    if isinstance(error, asyncpg.InternalClientError):
        return True
    try:
        return bool(driver.is_closed())
    except asyncpg.InterfaceError:
        # A pooled connection that closed under the query went back to its pool at once,
        # and its proxy refuses every call.
        return True


def request_session(request: Request) -> AsyncSession:
    """The request's one session, opened on first use; `AutoCommitRoute` commits and closes it.

    Dependencies that need the session only sometimes (credential lookups on a cache miss)
    call this instead of depending on `SessionDep`, which saves FastAPI a dependency solve.
    """
    state: dict[str, Any] = request.scope["state"]
    session: AsyncSession | None = state.get(_SESSION_STATE_KEY)
    if session is None:
        if not isinstance(request.scope.get("route"), AutoCommitRoute):
            raise RuntimeError("a request session needs an AutoCommitRoute (core.routing)")
        app = app_state(request)
        sessionmaker = (
            app.read_sessionmaker if request.method in _READ_METHODS else app.sessionmaker
        )
        session = state[_SESSION_STATE_KEY] = sessionmaker()
    return session


async def get_session(request: Request) -> AsyncSession:
    """`SessionDep`. A plain coroutine rather than a `yield` dependency: FastAPI runs those
    through an exit stack and a shielded context manager (about 25 us per request), and the
    route class already brackets the handler."""
    return request_session(request)


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def job_buffer(request: Request) -> JobBuffer:
    """Jobs deferred during this request; written in its transaction just before the commit.
    (Async: FastAPI runs a plain function dependency in a worker thread.)"""
    state = request.scope.setdefault("state", {})
    buffer = state.get("job_buffer")
    if buffer is None:
        buffer = state["job_buffer"] = JobBuffer()
    return buffer  # type: ignore[no-any-return]


JobBufferDep = Annotated[JobBuffer, Depends(job_buffer)]


async def close_request_session(request: Request) -> None:
    session: AsyncSession | None = request.scope.get("state", {}).pop(_SESSION_STATE_KEY, None)
    # A session outside a transaction (never used, or committed) holds no connection: nothing
    # to give back, and most reads end so. One inside a transaction rolls back and returns its
    # connection; shielded, as FastAPI shields a dependency's exit, so that a cancelled
    # request still gives the connection back to the pool.
    if session is not None and session.in_transaction():
        with anyio.CancelScope(shield=True):
            await session.close()


async def _commit(request: Request) -> None:
    state: dict[str, Any] = request.scope.get("state", {})
    buffer: JobBuffer | None = state.get("job_buffer")
    if buffer:
        await write_jobs(request_session(request), buffer)
    session: AsyncSession | None = state.get(_SESSION_STATE_KEY)
    if session is not None and session.in_transaction():
        await session.commit()


class AutoCommitRoute(APIRoute):
    """Commit the request's session once, after the handler, before the response; then close
    it (back to the pool before the response is sent).

    A `ProblemError` rolls the request back, unless its class says `keep_changes`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def commit_then_respond(request: Request) -> Response:
            try:
                try:
                    response = await handler(request)
                except ProblemError as error:
                    if error.keep_changes:
                        await _commit(request)
                    raise
                await _commit(request)
                return response
            finally:
                await close_request_session(request)

        return commit_then_respond
