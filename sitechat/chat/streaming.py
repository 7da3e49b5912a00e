"""The typed events of an answer in flight, and their encodings: SSE frames and WebSocket JSON.

`AnswerRun.events` (`chat/answering.py`) yields `ChatEvent`s; this module only turns them into
bytes or JSON, adds keep-alive pings while an answerer is quiet, and provides the response
classes that run an answer after the request's transaction has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anyio
import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from sitechat.chat.answerer import AnswerError
from sitechat.models.chat import Message

# Proxies and load balancers drop connections that stay silent for ~30-60 s; a comment line
# every 10 s keeps an SSE stream open while a slow model thinks.
KEEPALIVE_SECONDS = 10.0
_PUMP_STOP_SECONDS = 1.0

ChatEventType = Literal["message_start", "delta", "citations", "done", "error", "ping"]
EventT = TypeVar("EventT")

_BODY_HEADERS = frozenset({"content-length", "content-type"})
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class ChatEvent:
    """One event of an answer in flight. `data` is what goes on the wire; the final `done` also
    carries the stored answer and whether a token limit cut it (`cut`), and `error` the
    failure, for renderers that need more."""

    type: ChatEventType
    data: dict[str, Any] = field(default_factory=dict)
    message: Message | None = field(default=None, compare=False, repr=False)
    error: AnswerError | None = field(default=None, compare=False, repr=False)
    cut: bool = field(default=False, compare=False, repr=False)


PING = ChatEvent("ping")


def sse_frame(event: ChatEvent) -> bytes:
    if event.type == "ping":
        return b": ping\n\n"
    return b"event: " + event.type.encode() + b"\ndata: " + orjson.dumps(event.data) + b"\n\n"


def ws_message(event: ChatEvent) -> dict[str, Any]:
    return {"type": event.type, **event.data}


async def encode_sse(events: AsyncIterator[ChatEvent]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            yield sse_frame(event)


async def with_keepalive(
    events: AsyncIterator[EventT], interval: float | None
) -> AsyncIterator[EventT | None]:
    """Pass `events` through, yielding None whenever `interval` seconds pass without one.

    The source runs to completion in its own task, so a long wait for the next event never
    has to be interrupted (and an answerer's stream is never resumed from another task).
    """
    if interval is None:
        async for event in events:
            yield event
        return
    queue: asyncio.Queue[tuple[Literal["event", "end", "error"], Any]] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in events:
                queue.put_nowait(("event", event))
        except Exception as error:
            queue.put_nowait(("error", error))
        else:
            queue.put_nowait(("end", None))

    task = asyncio.create_task(pump(), name="chat-answer-pump")
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), interval)
            except TimeoutError:
                yield None
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        task.cancel()
        with anyio.move_on_after(_PUMP_STOP_SECONDS, shield=True):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class EventStreamResponse(StreamingResponse):
    """An SSE response that always closes its event source, even when the client left.

    Closing the source runs its cleanup at once (the service stores a partial answer there)
    instead of whenever the garbage collector finalizes the abandoned generator.
    """

    def __init__(self, body: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> None:
        super().__init__(
            body, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})}
        )
        self._source = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


class DeferredResponse(Response):
    """A response produced only when the server sends it, after the route's commit.

    Routes return it so that the slow part (waiting for an answerer) runs with the request's
    transaction already committed and its connection back in the pool.
    """

    def __init__(self, produce: Callable[[], Awaitable[Response]]) -> None:
        super().__init__()
        self._produce = produce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._produce()
        # Headers a route class added to this placeholder (CORS, say) belong to the real one.
        for name, value in self.headers.items():
            if name not in _BODY_HEADERS:
                response.headers[name] = value
        await response(scope, receive, send)
