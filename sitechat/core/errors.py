"""Every error leaves the service as RFC 9457 `application/problem+json`, rendered here.

Domain code raises a `ProblemError` subclass with a stable `type` slug; services never raise
`HTTPException`. Framework errors (unknown route, wrong method, validation) are mapped to the same
shape by the handlers registered in `install_exception_handlers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any, ClassVar

import asyncpg
import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sitechat.core.ratelimit import RateLimitExceeded, RateLimitUnavailable, rate_limit_headers

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/problems/"

log = structlog.get_logger()


def problem_type(slug: str) -> str:
    return f"{PROBLEM_TYPE_BASE}{slug}"


def problem_response(
    *,
    status: int,
    slug: str,
    detail: str,
    request_id: str | None,
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": request_id,
    }
    if extra:
        body.update(extra)
    return Response(
        content=orjson.dumps(body),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


class ProblemError(Exception):
    """A domain error with an HTTP status and a stable problem type."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str | None] = None
    # Errors whose request must still commit what it wrote (an audit row of a failed login,
    # the revocation of a reused refresh token's family).
    keep_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class BadRequest(ProblemError):
    status = 400
    slug = "bad-request"


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str = "Missing or invalid credentials.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="sitechat"'})


class Forbidden(ProblemError):
    status = 403
    slug = "forbidden"


class NotFound(ProblemError):
    status = 404
    slug = "not-found"

    def __init__(self, what: str = "Resource") -> None:
        super().__init__(f"{what} not found.")


class Conflict(ProblemError):
    status = 409
    slug = "conflict"


class InvalidStateTransition(ProblemError):
    status = 409
    slug = "invalid-state-transition"
    title = "Invalid state transition"


class PaymentRequired(ProblemError):
    status = 402
    slug = "quota-exceeded"
    title = "Quota exceeded"


class UnprocessableEntity(ProblemError):
    """A well-formed request the domain refuses (an unsafe crawl URL, say)."""

    status = 422
    slug = "unprocessable"


class ServiceUnavailable(ProblemError):
    status = 503
    slug = "service-unavailable"


_SLUG_BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


def slug_for_status(status: int) -> str:
    return _SLUG_BY_STATUS.get(status, "http-error")


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in errors
    ]


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        request_id=request_id_of(request),
        extra=exc.extra,
        headers=exc.headers,
    )


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(
        status=exc.status_code,
        slug=slug_for_status(exc.status_code),
        detail=detail,
        request_id=request_id_of(request),
        headers=exc.headers,
    )


async def _handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            status=400,
            slug="malformed-json",
            detail="The request body is not valid JSON.",
            request_id=request_id_of(request),
            extra={"errors": _validation_errors(errors)},
        )
    return problem_response(
        status=422,
        slug="validation-error",
        title="Validation error",
        detail="The request has invalid fields; see errors.",
        request_id=request_id_of(request),
        extra={"errors": _validation_errors(errors)},
    )


async def _handle_rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitExceeded)
    headers = rate_limit_headers(exc.decision)
    return problem_response(
        status=429,
        slug="rate-limited",
        title="Too many requests",
        detail=f"Rate limit exceeded; retry after {headers.get('Retry-After', '1')} seconds.",
        request_id=request_id_of(request),
        headers=headers,
    )


async def _handle_rate_limit_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitUnavailable)
    return problem_response(
        status=503,
        slug="rate-limit-unavailable",
        detail="This route is temporarily unavailable; please retry shortly.",
        request_id=request_id_of(request),
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


def _retry_shortly(request: Request, event: str, error: object, slug: str, detail: str) -> Response:
    """A 503 the client may retry in a moment (logged as `event`, with the error's class)."""
    log.warning(event, error=type(error).__name__)
    return problem_response(
        status=503,
        slug=slug,
        detail=detail,
        request_id=request_id_of(request),
        headers={"Retry-After": "2"},
    )


def _database_unavailable(request: Request, error: BaseException) -> Response:
    return _retry_shortly(
        request,
        "db.unavailable",
        error,
        "database-unavailable",
        "The database is unreachable; please retry shortly.",
    )


async def _handle_database_unavailable(request: Request, exc: Exception) -> Response:
    return _database_unavailable(request, exc)


# What asyncpg raises when the server is gone, restarting or refusing connections for now:
# class 08 errors (`ConnectionDoesNotExistError`...), 57P01-57P03 (admin/crash shutdown,
# "the database system is starting up / shutting down"), a protocol left in a broken state by
# a connection cut mid-query, and socket errors.
_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,
    OSError,
)
_DATABASE_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "psycopg")
# A statement that ran out of time (`statement_timeout`, usually waiting for a lock another
# transaction holds) or could not take a lock at once: the request may well succeed if retried.
_DATABASE_BUSY = (asyncpg.QueryCanceledError, asyncpg.LockNotAvailableError)


def caused_by(error: DBAPIError, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether the driver's own error under SQLAlchemy's is one of `kinds`."""
    # SQLAlchemy wraps its adapter's error, which is raised `from` asyncpg's own.
    cause: BaseException | None = error.orig
    while cause is not None:
        if isinstance(cause, kinds):
            return True
        cause = cause.__cause__
    return False


async def _handle_dbapi_error(request: Request, exc: Exception) -> Response:
    """A driver error that is no more specific SQLAlchemy class (asyncpg's errors arrive as a
    bare `DBAPIError`): 503 if the connection was lost or the statement ran out of time, 422
    for a value PostgreSQL refuses (SQLSTATE class 22, e.g. a NUL character in text), else a
    real 500."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or caused_by(exc, _CONNECTION_LOST):
        return _database_unavailable(request, exc)
    if caused_by(exc, _DATABASE_BUSY):
        return _retry_shortly(
            request,
            "db.busy",
            exc.orig,
            "database-busy",
            "The database did not answer in time; please retry shortly.",
        )
    if caused_by(exc, (asyncpg.DataError,)):
        return await _handle_data_error(request, exc)
    raise exc


def _raised_in(traceback: TracebackType | None, module_prefixes: tuple[str, ...]) -> bool:
    while traceback is not None:
        if str(traceback.tb_frame.f_globals.get("__name__", "")).startswith(module_prefixes):
            return True
        traceback = traceback.tb_next
    return False


async def _handle_os_error(request: Request, exc: Exception) -> Response:
    """Connecting to PostgreSQL over its Unix socket while it is down raises a bare
    `FileNotFoundError` (over TCP `ConnectionRefusedError`) from the driver: that is the
    database being unavailable. Other refused connections are a dependency being down (503);
    any other OS error stays a 500."""
    if _raised_in(exc.__traceback__, _DATABASE_DRIVER_MODULES):
        return _database_unavailable(request, exc)
    if isinstance(exc, ConnectionError):
        return _retry_shortly(
            request,
            "dependency.unavailable",
            exc,
            "service-unavailable",
            "A service this request needs is unreachable; please retry shortly.",
        )
    raise exc


async def _handle_integrity_error(request: Request, exc: Exception) -> Response:
    # Constraint violations that a service did not anticipate are still the client's
    # conflict (a concurrent duplicate), never a 500.
    log.info("db.integrity_conflict", error=type(exc).__name__)
    return problem_response(
        status=409,
        slug="conflict",
        detail="The request conflicts with the current state of the resource.",
        request_id=request_id_of(request),
    )


async def _handle_data_error(request: Request, exc: Exception) -> Response:
    # A value the database refuses (a NUL character in text, a number out of its column's
    # range) is input that slipped past request validation: the client's error, not a 500.
    # Logged as a warning so the missing validation gets added where the value came in.
    log.warning("db.data_error", error=type(getattr(exc, "orig", exc)).__name__)
    return problem_response(
        status=422,
        slug="invalid-value",
        detail="A value in the request cannot be stored (e.g. a NUL character or a number "
        "out of range).",
        request_id=request_id_of(request),
    )


def install_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(RateLimitExceeded, _handle_rate_limited)
    app.add_exception_handler(RateLimitUnavailable, _handle_rate_limit_unavailable)
    app.add_exception_handler(IntegrityError, _handle_integrity_error)
    app.add_exception_handler(DataError, _handle_data_error)
    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error, _handle_database_unavailable)
    app.add_exception_handler(DBAPIError, _handle_dbapi_error)
    app.add_exception_handler(OSError, _handle_os_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries saying these statuses answer with an RFC 9457 problem."""
    return {
        code: {
            "description": "Problem details (RFC 9457).",
            "content": {"application/problem+json": {}},
        }
        for code in statuses
    }
