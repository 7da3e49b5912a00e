"""Sliding window counters in Redis, shared by every process, checked in batches.

`limits` needs two round trips per check (`hit`, then `get_window_stats` for the headers), and
redis-py's command path costs about 90-140 us of CPU per call here. The script in `window.py`
consumes and reports in one call, and the checks that arrive while a call is in flight go
together in the next call: one call per batch instead of one per request. Each check is still
decided inside Redis, one after the other, so processes sharing the Redis never admit more
than the limit together.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from redis.commands.core import AsyncScript

from sitechat.core.ratelimit.window import Check, WindowState

# Checks per script call; more wait for the next call.
MAX_BATCH: Final = 256

_Waiter = tuple[Check, asyncio.Future[bytes]]


def state_of(check: Check, reply: bytes) -> tuple[bool, WindowState]:
    """A check's part of the Lua script's reply."""
    allowed, previous, previous_ttl_ms, current, current_ttl_ms = reply.split()
    return allowed == b"1", WindowState(
        window=check.window,
        previous=int(previous),
        previous_ttl=int(previous_ttl_ms) / 1000,
        current=int(current),
        current_ttl=int(current_ttl_ms) / 1000,
    )


class RedisBatches:
    """Sends checks to Redis in batches: whatever arrived while a call was in flight goes in
    the next call, so under load one call serves many requests, and an idle server sends each
    check at once. A failed call fails each check in it with the call's error."""

    def __init__(self, script: AsyncScript, key_prefix: str) -> None:
        self._script = script
        self._key_prefix = key_prefix
        self._waiting: list[_Waiter] = []
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, check: Check) -> tuple[bool, WindowState]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((check, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="ratelimit-redis")
        return state_of(check, await future)

    async def _send(self) -> None:
        batch: list[_Waiter] = []
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    replies = await self._call(batch)
                except Exception as error:  # each waiter handles it (fail open or closed)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), reply in replies:
                    if not future.done():  # a waiter whose request was cancelled is gone
                        future.set_result(reply)
        finally:
            # Only if this task itself was cancelled (`close`): no waiter is left hanging.
            self._sender = None
            for _, future in (*batch, *self._waiting):
                future.cancel()
            self._waiting.clear()

    async def _call(self, batch: list[_Waiter]) -> list[tuple[_Waiter, bytes]]:
        keys: list[str] = []
        args: list[int] = []
        for check, _ in batch:
            key = f"{self._key_prefix}:{{{check.key}}}"
            keys += (f"{key}/-1", key)
            args += (check.limit, check.window, check.cost)
        reply: bytes = await self._script(keys=keys, args=args)
        return list(zip(batch, reply.split(b","), strict=True))

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
