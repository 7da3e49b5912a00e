"""Errors of the OpenAI-compatible routes in OpenAI's error envelope.

The official SDKs read `{"error": {"message", "type", "code"}}` and show only "Error code: 401"
for any other body. Every error of these routes (a refused key, a rate limit, a validation
problem, a body refused by the middleware) is still made once as a problem (`core/errors.py`);
this middleware rewrites the problem into the envelope on the way out, keeping the problem's
`type` URI and `request_id` inside it so the two surfaces name errors the same way.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sitechat.core.errors import PROBLEM_CONTENT_TYPE

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")

# OpenAI's `type` values by status; other statuses fall back by class.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


_MAPPED_MEMBERS = frozenset({"type", "title", "status", "detail", "request_id"})


def openai_error_body(problem: dict[str, Any]) -> dict[str, Any]:
    """`{"error": {...}}` for a problem body: the detail as the message, the problem slug as the
    code, OpenAI's type for the status, and the problem's other members kept alongside."""
    status = int(problem.get("status") or 500)
    problem_type = str(problem.get("type") or "")
    # The problem's own members (`feature`, `upgrade_plan_id`, `errors`...) ride along; the
    # envelope's own keys win over a member of the same name.
    error: dict[str, Any] = {
        key: value for key, value in problem.items() if key not in _MAPPED_MEMBERS
    }
    error.update(
        {
            "message": problem.get("detail") or problem.get("title") or "Request failed.",
            "type": _OPENAI_TYPES.get(
                status, "invalid_request_error" if status < 500 else "api_error"
            ),
            "code": problem_type.rsplit("/", 1)[-1] or None,
            "param": _first_param(problem.get("errors")),
            "problem_type": problem_type,
            "request_id": problem.get("request_id"),
        }
    )
    return {"error": error}


def _first_param(errors: Any) -> str | None:
    """The field named by the first validation error, as OpenAI's `param`."""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        location = errors[0].get("loc")
        if isinstance(location, list):
            return ".".join(str(part) for part in location if part != "body") or None
    return None


def _is_openai_path(path: str) -> bool:
    return path in OPENAI_PATHS or path.startswith(tuple(f"{prefix}/" for prefix in OPENAI_PATHS))


class OpenAIErrorEnvelope:
    """Pure ASGI middleware: problem+json answers of `OPENAI_PATHS` leave as OpenAI errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_openai_path(str(scope["path"])):
            await self.app(scope, receive, send)
            return
        held_start: Message | None = None
        body = bytearray()

        async def rewrite(message: Message) -> None:
            nonlocal held_start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                if headers.get("content-type", "").startswith(PROBLEM_CONTENT_TYPE):
                    held_start = message
                    return
            elif message["type"] == "http.response.body" and held_start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _send_envelope(send, held_start, bytes(body))
                return
            await send(message)

        await self.app(scope, receive, rewrite)


async def _send_envelope(send: Send, start: Message, problem_bytes: bytes) -> None:
    try:
        problem = orjson.loads(problem_bytes)
    except orjson.JSONDecodeError:
        problem = {"status": start["status"], "detail": "Request failed."}
    content = orjson.dumps(openai_error_body(problem))
    headers = MutableHeaders(raw=list(start["headers"]))
    headers["content-type"] = "application/json"
    headers["content-length"] = str(len(content))
    await send({**start, "headers": headers.raw})
    await send({"type": "http.response.body", "body": content, "more_body": False})
