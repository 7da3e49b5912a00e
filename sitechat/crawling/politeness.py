"""How hard the crawler presses one host: as fast as it answers, slower the moment it struggles.

A fixed delay is either too slow for a site that answers in a millisecond or too fast for one
that is already overloaded. `HostThrottle` instead keeps, per host, a window of concurrent
requests (at most the configured connection cap) and a spacing between request starts, and
moves both on what the host's answers say, the way TCP moves its congestion window:

- every answer in normal time widens the window (quickly at first, then by one per round trip),
  and lets an earlier slow-down spacing decay;
- answers much slower than the host's fastest (their EWMA, less a slack for jitter, above
  1.5 x that baseline) narrow the window, at most once per round trip; at one connection they
  space requests out instead;
- 429 and 503 halve the window and pause the whole host, for `Retry-After` when given, else for
  an exponential backoff; timeouts, refused connections and other 5xx do the same with a
  shorter backoff; after `max_consecutive_failures` in a row the host is given up for this crawl;
- a configured minimum delay and a robots.txt `Crawl-delay` are floors under the spacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger()

OVERLOAD_STATUSES = frozenset({429, 503})
LATENCY_WEIGHT = 0.3  # of the newest sample in the latency EWMA
BASELINE_DRIFT = 0.005  # how fast the baseline follows a latency that stays higher
RISING_FACTOR = 1.5  # latency (less the slack) above this x baseline: the host is queueing
NARROW_FACTOR = 0.7
OVERLOAD_BACKOFF_SECONDS = 1.0
ERROR_BACKOFF_SECONDS = 0.25
MIN_SPACING_SECONDS = 0.001  # below this an adaptive spacing is dropped


@dataclass(frozen=True)
class ThrottleConfig:
    max_connections: int = 4
    min_delay_seconds: float = 0.0
    max_backoff_seconds: float = 30.0
    # Latency is "rising" when, less this, it passes 1.5 x baseline: jitter of a few ms is not load.
    latency_slack_seconds: float = 0.05
    max_consecutive_failures: int = 8


class HostUnavailable(Exception):
    """The host failed `max_consecutive_failures` times in a row; this crawl leaves it alone."""


class HostThrottle:
    """The adaptive limiter of one host (scheme + authority) for one crawl."""

    def __init__(
        self, config: ThrottleConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._clock = clock
        self.cap = max(1, config.max_connections)
        self.window = float(min(2, self.cap))  # slow start from two connections
        self.slow_start = True
        self.floor_spacing = max(0.0, config.min_delay_seconds)
        self.adaptive_spacing = 0.0
        self.latency: float | None = None  # EWMA of request durations, seconds
        self.baseline: float | None = None
        self.failures = 0
        self.in_flight = 0
        self.paused_until = 0.0
        self._next_start = 0.0
        self._next_narrowing = 0.0
        self._changed = asyncio.Condition()

    @property
    def spacing(self) -> float:
        return max(self.floor_spacing, self.adaptive_spacing)

    @property
    def allowed(self) -> int:
        return max(1, int(self.window))

    @property
    def down(self) -> bool:
        return self.failures >= self.config.max_consecutive_failures

    def set_floor(self, seconds: float) -> None:
        """Raise the minimum spacing (robots.txt ``Crawl-delay``); never lowers it."""
        self.floor_spacing = max(self.floor_spacing, seconds)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait for a turn, run the request, then report what the host answered."""
        await self._acquire()
        slot = Slot(self, self._clock())
        try:
            yield slot
        finally:
            await self._release()

    async def _acquire(self) -> None:
        async with self._changed:
            while True:
                if self.down:
                    raise HostUnavailable
                now = self._clock()
                if now < self.paused_until:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), self.paused_until - now)
                    continue
                if self.in_flight < self.allowed:
                    break
                await self._changed.wait()
            self.in_flight += 1
            start = max(now, self._next_start)
            self._next_start = start + self.spacing
        if start > now:  # the turn is reserved: concurrent callers queue one spacing apart
            try:
                await asyncio.sleep(start - now)
            except BaseException:
                await self._release()
                raise

    async def _release(self) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    # -- what the host said ----------------------------------------------------------------

    def answered(self, seconds: float) -> None:
        """A normal answer (any status but overload or server error) after ``seconds``."""
        self.failures = 0
        latency = (
            seconds
            if self.latency is None
            else self.latency + LATENCY_WEIGHT * (seconds - self.latency)
        )
        self.latency = latency
        if self.baseline is None or seconds < self.baseline:
            self.baseline = seconds  # the fastest answer seen: the host unloaded
        else:
            self.baseline += BASELINE_DRIFT * (latency - self.baseline)
        if latency - self.config.latency_slack_seconds > RISING_FACTOR * self.baseline:
            self._narrow(latency)
            return
        if self.slow_start:
            self.window = min(float(self.cap), self.window + 1)
        else:
            self.window = min(float(self.cap), self.window + 1 / self.window)
        self.adaptive_spacing /= 2
        if self.adaptive_spacing < MIN_SPACING_SECONDS:
            self.adaptive_spacing = 0.0

    def overloaded(self, retry_after: float | None) -> None:
        """429 or 503: halve the window and pause the host."""
        self.failures += 1
        wait = OVERLOAD_BACKOFF_SECONDS * 2 ** (self.failures - 1)
        self._back_off(retry_after if retry_after is not None else wait)

    def failed(self) -> None:
        """A timeout, a refused or broken connection, or a 5xx other than 503."""
        self.failures += 1
        self._back_off(ERROR_BACKOFF_SECONDS * 2 ** (self.failures - 1))

    def _narrow(self, latency: float) -> None:
        now = self._clock()
        if now < self._next_narrowing:
            return
        self._next_narrowing = now + latency  # once per round trip
        self.slow_start = False
        if self.window > 1:
            self.window = max(1.0, self.window * NARROW_FACTOR)
        else:
            self.adaptive_spacing = min(
                self.config.max_backoff_seconds, max(self.adaptive_spacing * 2, latency / 2)
            )
        log.debug("crawl.throttle_narrowed", window=self.window, spacing=self.spacing)

    def _back_off(self, pause: float) -> None:
        self.slow_start = False
        self.window = max(1.0, self.window / 2)
        pause = min(max(pause, 0.0), self.config.max_backoff_seconds)
        self.paused_until = max(self.paused_until, self._clock() + pause)
        if self.latency is not None:
            self.adaptive_spacing = max(self.adaptive_spacing, min(self.latency, pause))
        log.info(
            "crawl.throttle_backoff",
            pause_seconds=round(pause, 3),
            window=self.window,
            failures=self.failures,
        )


class Slot:
    """One request's turn; tell it how the request went."""

    def __init__(self, throttle: HostThrottle, started: float) -> None:
        self._throttle = throttle
        self._started = started
        self._reported = False

    def report(self, status: int | None, error: str | None, retry_after: float | None) -> None:
        if self._reported:
            return
        self._reported = True
        throttle = self._throttle
        if status in OVERLOAD_STATUSES:
            throttle.overloaded(retry_after)
        elif error in ("timeout", "connection-failed", "network-error") or (
            status is not None and status >= 500
        ):
            throttle.failed()
        elif status:
            throttle.answered(throttle._clock() - self._started)
